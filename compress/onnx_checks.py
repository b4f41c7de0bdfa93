"""Checks every ONNX file passes before it goes into a bundle (TensorRT 8.6 on the Jetson must accept it).

1. opset of the default domain <= 17 (TensorRT 8.6's ONNX parser supports opsets up to 17);
2. only operators the TensorRT 8.6 ONNX parser supports (list below; written down from the operator support
   matrix in onnx/onnx-tensorrt `docs/operators.md`, release 8.x branches; conservative: an operator the 8.6
   parser gained late is missing rather than wrongly allowed);
3. static input shapes (every dim a positive integer: no optimisation profiles are declared);
4. QDQ quantisation TensorRT accepts: QuantizeLinear / DequantizeLinear zero points of type int8 and all
   zero (the parser rejects uint8 and non-zero zero points: "y_zero_point must be 0");
5. onnxruntime output equal to the PyTorch model's within a stated tolerance per precision (`compare_outputs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.errors import ModelError

MAX_OPSET = 17
TRT86_OPS = frozenset("""
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast Ceil Celu Clip
Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace DequantizeLinear Div Dropout
Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather GatherElements GatherND Gemm GlobalAveragePool
GlobalLpPool GlobalMaxPool Greater GreaterOrEqual GRU HardSigmoid HardSwish Identity If ImageScaler
InstanceNormalization IsNaN LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop LRN LSTM
LpNormalization LpPool MatMul Max MaxPool Mean Min Mul Neg Not Or Pad ParametricSoftplus Pow PRelu
QuantizeLinear RandomUniform RandomUniformLike Range ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax
ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence RNN Round
ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape Sigmoid Sign Sin Sinh Size Slice Softmax Softplus
Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile TopK Transpose Unsqueeze
Upsample Where Xor
""".split())
RESIZE_MODES = {b"nearest", b"linear"}
# |onnxruntime - torch| / max|torch| on raw outputs; INT8 is judged by the accuracy gate and a looser bound
TOLERANCE = {"fp32": 1e-3, "int8": 0.25}


@dataclass
class CheckReport:
    path: Path
    opset: int
    operators: list[str]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_if_failed(self) -> None:
        if self.problems:
            raise ModelError(f"{self.path} fails the ONNX checks for TensorRT 8.6: " + "; ".join(self.problems))


def _zero_point_problems(model: "onnx.ModelProto") -> list[str]:  # noqa: F821
    from onnx import TensorProto, numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    consts = {n.output[0]: n.attribute[0].t for n in model.graph.node if n.op_type == "Constant" and n.attribute}
    problems = []
    for node in model.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        if len(node.input) < 3 or not node.input[2]:
            problems.append(f"{node.op_type} {node.name!r} has no zero point (defaults to uint8); "
                            "quantise with int8 zero points")
            continue
        zp = inits.get(node.input[2]) or consts.get(node.input[2])
        if zp is None:
            problems.append(f"{node.op_type} {node.name!r}: zero point {node.input[2]!r} is not a constant")
        elif zp.data_type != TensorProto.INT8:
            kind = TensorProto.DataType.Name(zp.data_type)
            problems.append(f"{node.op_type} {node.name!r}: zero point type {kind}, TensorRT 8.6 needs INT8"
                            + (" (uint8 QDQ); use symmetric int8 quantisation or "
                               "compress.stages.quantize.to_int8_zero_points" if kind == "UINT8" else
                               "; keep this tensor in float (e.g. do not quantise biases)"))
        elif np.any(numpy_helper.to_array(zp) != 0):
            problems.append(f"{node.op_type} {node.name!r}: non-zero zero point; TensorRT needs symmetric "
                            "quantisation (zero point 0)")
    return problems


def check_onnx(path: Path) -> CheckReport:
    """Static checks 1-4; returns a report listing every problem (empty = passes)."""
    import onnx

    path = Path(path)
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises several untyped errors for bad files
        raise ModelError(f"{path} is not a valid ONNX model: {exc}") from None
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    ops = sorted({n.op_type for n in model.graph.node})
    report = CheckReport(path, opset, ops)
    if opset > MAX_OPSET:
        report.problems.append(f"opset {opset} > {MAX_OPSET}; export with opset_version={MAX_OPSET}")
    custom = sorted({f"{n.domain}::{n.op_type}" for n in model.graph.node if n.domain not in ("", "ai.onnx")})
    if custom:
        report.problems.append(f"operators from non-standard domains {custom}; TensorRT cannot parse them")
    unsupported = sorted(set(ops) - TRT86_OPS)
    if unsupported:
        report.problems.append(f"operators {unsupported} are not parsed by TensorRT 8.6; change the layer "
                               "or keep it out of the exported graph")
    for node in model.graph.node:
        if node.op_type == "Resize":
            mode = next((a.s for a in node.attribute if a.name == "mode"), b"nearest")
            if mode not in RESIZE_MODES:
                report.problems.append(f"Resize {node.name!r} mode {mode.decode()!r}; TensorRT supports nearest/linear")
    init_names = {t.name for t in model.graph.initializer}
    for inp in model.graph.input:
        if inp.name in init_names:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in inp.type.tensor_type.shape.dim]
        if not all(isinstance(d, int) and d > 0 for d in dims):
            report.problems.append(f"input {inp.name!r} has dynamic shape {dims}; export with a static shape")
    report.problems += _zero_point_problems(model)
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
