"""Checks every ONNX file passes before it goes into a bundle: what TensorRT on each supported JetPack rejects
(the targets and their sources are in compress/trt_targets.py), caught here rather than on a clinic's device.

1. opset of the default domain <= what each target's ONNX parser documents (17 for TensorRT 8.5/8.6, 20 for 10.x);
2. only operators each target's parser supports (compress/trt_targets.py);
3. static input shapes (every dim a positive integer: the engine builder declares no optimisation profiles);
4. QDQ quantisation TensorRT accepts: zero points int8 and all zero (the parser rejects uint8 and non-zero ones:
   "y_zero_point must be 0"), and activations quantised per tensor (one scale): TensorRT quantises only weights
   per channel (NvInfer.h IQuantizeLayer: "Activations cannot be quantized per-channel");
5. onnxruntime output equal to the PyTorch model's within a stated tolerance per precision (`compare_outputs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from compress.trt_targets import SUPPORTED, TrtTarget, targets
from edge.errors import ModelError

RESIZE_MODES = {b"nearest", b"linear"}
# |onnxruntime - torch| / max|torch| on raw outputs; INT8 is judged by the accuracy gate and a looser bound
TOLERANCE = {"fp32": 1e-3, "int8": 0.25}
QDQ = ("QuantizeLinear", "DequantizeLinear")


@dataclass
class CheckReport:
    path: Path
    opset: int
    operators: list[str]
    problems: list[str] = field(default_factory=list)
    targets: tuple[str, ...] = SUPPORTED

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_if_failed(self) -> None:
        if self.problems:
            names = ", ".join(f"TensorRT {t}" for t in self.targets)
            raise ModelError(f"{self.path} fails the ONNX checks for {names}: " + "; ".join(self.problems))


def _constants(model: "onnx.ModelProto") -> dict:  # noqa: F821
    """Tensor name -> TensorProto for initializers and Constant node outputs (what TensorRT sees as weights)."""
    out = {t.name: t for t in model.graph.initializer}
    out.update({n.output[0]: n.attribute[0].t for n in model.graph.node if n.op_type == "Constant" and n.attribute
                and n.attribute[0].HasField("t")})
    return out


def _zero_point_problems(model: "onnx.ModelProto") -> list[str]:  # noqa: F821
    from onnx import TensorProto, numpy_helper

    consts = _constants(model)
    problems = []
    for node in model.graph.node:
        if node.op_type not in QDQ:
            continue
        if len(node.input) < 3 or not node.input[2]:
            problems.append(f"{node.op_type} {node.name!r} has no zero point (defaults to uint8); "
                            "quantise with int8 zero points")
            continue
        zp = consts.get(node.input[2])
        if zp is None:
            problems.append(f"{node.op_type} {node.name!r}: zero point {node.input[2]!r} is not a constant")
        elif zp.data_type != TensorProto.INT8:
            kind = TensorProto.DataType.Name(zp.data_type)
            problems.append(f"{node.op_type} {node.name!r}: zero point type {kind}, TensorRT needs INT8"
                            + (" (uint8 QDQ); use symmetric int8 quantisation or "
                               "compress.stages.quantize.to_int8_zero_points" if kind == "UINT8" else
                               "; keep this tensor in float (e.g. do not quantise biases)"))
        elif np.any(numpy_helper.to_array(zp) != 0):
            problems.append(f"{node.op_type} {node.name!r}: non-zero zero point; TensorRT needs symmetric "
                            "quantisation (zero point 0)")
    return problems


def _activation_scale_problems(model: "onnx.ModelProto") -> list[str]:  # noqa: F821
    """Q/DQ on an activation (not a constant weight) with more than one scale: TensorRT refuses per-axis
    activation quantisation (only weights may be quantised per channel)."""
    from onnx import numpy_helper

    consts = _constants(model)
    producer = {o: n for n in model.graph.node for o in n.output}

    def is_weight(tensor: str) -> bool:
        node = producer.get(tensor)
        if node is not None and node.op_type == "QuantizeLinear":  # DQ(Q(x)): judge x
            return is_weight(node.input[0])
        return tensor in consts

    problems = []
    for node in model.graph.node:
        if node.op_type not in QDQ or is_weight(node.input[0]) or node.input[1] not in consts:
            continue
        n_scales = int(numpy_helper.to_array(consts[node.input[1]]).size)
        if n_scales > 1:
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            problems.append(f"{node.op_type} {node.name!r} quantises activation {node.input[0]!r} per axis (axis "
                            f"{axis}, {n_scales} scales); TensorRT quantises activations per tensor only: "
                            "re-quantise with quantize.per_tensor_activations: true")
    return problems


def _target_problems(opset: int, ops: set[str], checked: list[TrtTarget]) -> list[str]:
    problems = []
    too_new = [t for t in checked if opset > t.max_opset]
    if too_new:
        lowest = min(t.max_opset for t in too_new)
        problems.append(f"opset {opset} > {lowest}, the most {', '.join(t.label for t in too_new)} parses; "
                        f"export with opset_version={lowest}")
    for op in sorted(ops):
        missing = [t.label for t in checked if op not in t.operators]
        if missing:
            problems.append(f"operator {op} is not parsed by {', '.join(missing)}; change the layer or keep it "
                            "out of the exported graph")
    return problems


def _input_shape_problems(model: "onnx.ModelProto") -> list[str]:  # noqa: F821
    init_names = {t.name for t in model.graph.initializer}
    problems = []
    for inp in model.graph.input:
        if inp.name in init_names:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in inp.type.tensor_type.shape.dim]
        if not all(isinstance(d, int) and d > 0 for d in dims):
            problems.append(f"input {inp.name!r} has dynamic shape {dims}; export with a static shape (no "
                            "optimisation profiles are built on the device)")
    return problems


def check_onnx(path: Path, trt: tuple[str, ...] = SUPPORTED) -> CheckReport:
    """Static checks 1-4 against every TensorRT release in `trt`; returns a report listing every problem."""
    import onnx

    path = Path(path)
    checked = targets(trt)
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises several untyped errors for bad files
        raise ModelError(f"{path} is not a valid ONNX model: {exc}") from None
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    ops = {n.op_type for n in model.graph.node if n.domain in ("", "ai.onnx")}
    report = CheckReport(path, opset, sorted(ops), targets=tuple(trt))
    custom = sorted({f"{n.domain}::{n.op_type}" for n in model.graph.node if n.domain not in ("", "ai.onnx")})
    if custom:
        report.problems.append(f"operators from non-standard domains {custom}; TensorRT cannot parse them")
    report.problems += _target_problems(opset, ops, checked)
    for node in model.graph.node:
        if node.op_type == "Resize":
            mode = next((a.s for a in node.attribute if a.name == "mode"), b"nearest")
            if mode not in RESIZE_MODES:
                report.problems.append(f"Resize {node.name!r} mode {mode.decode()!r}; TensorRT supports nearest/linear")
    report.problems += _input_shape_problems(model)
    report.problems += _zero_point_problems(model)
    report.problems += _activation_scale_problems(model)
    return report


def compare_outputs(reference: np.ndarray, candidate: np.ndarray, precision: str) -> float:
    """Max abs difference relative to max |reference|; ModelError if above TOLERANCE[precision]."""
    if reference.shape != candidate.shape:
        raise ModelError(f"output shape {candidate.shape} differs from the reference {reference.shape}")
    scale = max(float(np.abs(reference).max()), 1e-6)
    err = float(np.abs(reference.astype(np.float64) - candidate).max()) / scale
    if err > TOLERANCE[precision]:
        raise ModelError(f"onnxruntime output differs from the reference by {err:.4g} (relative max abs) "
                         f"> {TOLERANCE[precision]} allowed for {precision}; the export or quantisation is wrong")
    return err
