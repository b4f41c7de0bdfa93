"""Stage 4, quantize: INT8 post-training quantisation of the FP32 ONNX into an explicit QDQ graph that
TensorRT accepts (symmetric, int8 zero points = 0, per-channel weights, per-tensor activations), calibrated on
real frames.

NNCF first (symmetric preset; its uint8 zero points are rewritten to int8 0); onnxruntime `quantize_static`
(QDQ, QInt8/QInt8, symmetric) as the alternative. `quantize.per_tensor_activations` (default true) makes NNCF
give every activation one scale: its CPU hardware config otherwise quantises the input of a depthwise
convolution per channel (head-seg 1.3.0 shipped four such Q/DQ pairs after its Resize layers), which TensorRT
refuses. onnxruntime's `per_channel` applies to weights only, so its activations are always per tensor. If INT8 loses more than the budget, the layer whose output
error grows most is left in float and quantisation is redone, up to `max_float_layers` (reported).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from compress.onnx_checks import check_onnx, compare_outputs
from compress.pipeline.registry import STAGES
from compress.pipeline.workdir import StageOutcome
from compress.stages.common import StageContext, onnx_latency_ms, ort_predict
from edge.errors import InputError, ModelError

QUANTIZABLE = ("Conv", "Gemm", "MatMul", "ConvTranspose")


def quantize_nncf(src: Path, dst: Path, frames: np.ndarray, exclude: list[str],
                  per_tensor_activations: bool = True) -> Path:
    import nncf
    import onnx
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, QuantizationParameters

    model = onnx.load(str(src))
    name = model.graph.input[0].name
    data = nncf.Dataset([frames[i:i + 1] for i in range(len(frames))], lambda x: {name: x})
    # PERFORMANCE = symmetric weights (per-channel for Conv/Gemm) and symmetric activations. NNCF 3.4 refuses
    # signedness_to_force for ONNX, so unsigned activations come out as uint8: see to_int8_zero_points.
    advanced = AdvancedQuantizationParameters(
        activations_quantization_params=QuantizationParameters(per_channel=False)) if per_tensor_activations else None
    q = nncf.quantize(model, data, preset=nncf.QuantizationPreset.PERFORMANCE, subset_size=len(frames),
                      ignored_scope=nncf.IgnoredScope(names=exclude) if exclude else None,
                      advanced_parameters=advanced)
    onnx.save(q, str(dst))
    return dst


def quantize_ort(src: Path, dst: Path, frames: np.ndarray, exclude: list[str],
                 per_tensor_activations: bool = True) -> Path:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    name = onnx.load(str(src)).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(frames[i:i + 1] for i in range(len(frames)))

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self.it, None)
            return None if x is None else {name: x}

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=exclude,
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True,
                                   "QuantizeBias": False})  # int32 bias DQ is not parsed by TensorRT 8.6
    return dst


def to_int8_zero_points(path: Path) -> dict[str, int]:
    """Make every QDQ zero point int8 0, as TensorRT requires; returns counts of what changed.

    uint8 with zero point 128 -> int8 0: exact (the same grid of real values). uint8 with zero point 0 (NNCF's
    unsigned quantizers after ReLU, range [0, 255 s]) -> int8 0 with scale 2 s: covers the same range with one
    bit less resolution; the accuracy gate measures the cost. Any other uint8 zero point is asymmetric and
    refused (ModelError).
    """
    import onnx
    from onnx import TensorProto, numpy_helper

    model = onnx.load(str(path))
    inits = {t.name: t for t in model.graph.initializer}
    exact, widened, done = 0, 0, set()
    for node in model.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear") or len(node.input) < 3:
            continue
        zp_init, scale_init = inits.get(node.input[2]), inits.get(node.input[1])
        if zp_init is None or zp_init.data_type != TensorProto.UINT8:
            continue
        zp = numpy_helper.to_array(zp_init).astype(np.int16)
        if np.all(zp == 128):
            mult = 1.0
        elif np.all(zp == 0) and scale_init is not None:
            mult = 2.0
        else:
            raise ModelError(f"{path}: {node.op_type} {node.name!r} is asymmetric (uint8 zero point "
                             f"{zp.ravel()[:3].tolist()}); use quantize.method 'ort' or a symmetric preset")
        if zp_init.name not in done:
            zp_init.CopyFrom(numpy_helper.from_array(np.zeros_like(zp, dtype=np.int8), zp_init.name))
            done.add(zp_init.name)
        if mult != 1.0 and scale_init.name not in done:
            scale = numpy_helper.to_array(scale_init) * np.float32(mult)
            scale_init.CopyFrom(numpy_helper.from_array(scale.astype(np.float32), scale_init.name))
            done.add(scale_init.name)
        exact, widened = (exact + 1, widened) if mult == 1.0 else (exact, widened + 1)
    if exact or widened:
        for vi in list(model.graph.value_info) + list(model.graph.output):
            if vi.type.tensor_type.elem_type == TensorProto.UINT8:
                vi.type.tensor_type.elem_type = TensorProto.INT8
        onnx.save(model, str(path))
    return {"uint8_128_to_int8": exact, "uint8_unsigned_widened": widened}


def layer_errors(fp32: Path, int8: Path, frames: np.ndarray) -> dict[str, float]:
    """Per quantisable node (FP32 graph name): relative output error of INT8 vs FP32, minus the largest
    error seen upstream in topological order (how much this layer adds)."""
    import onnx
    import onnxruntime as ort

    def run(path: Path, names: list[str]) -> dict[str, np.ndarray]:
        m = onnx.load(str(path))
        have = {o for n in m.graph.node for o in n.output}
        for t in names:
            if t in have:
                m.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        outs = [o.name for o in sess.get_outputs()]
        vals = [sess.run(None, {sess.get_inputs()[0].name: frames[i:i + 1]}) for i in range(len(frames))]
        return {o: np.concatenate([v[k] for v in vals]) for k, o in enumerate(outs)}

    nodes = [(n.name, n.output[0]) for n in onnx.load(str(fp32)).graph.node if n.op_type in QUANTIZABLE]
    a, b = run(fp32, [t for _, t in nodes]), run(int8, [t for _, t in nodes])
    errs, worst = {}, 0.0
    for name, t in nodes:
        if t in a and t in b:
            e = float(np.linalg.norm(a[t] - b[t]) / max(np.linalg.norm(a[t]), 1e-12))
            errs[name] = e - worst
            worst = max(worst, e)
    return errs


METHODS = {"nncf": quantize_nncf, "ort": quantize_ort}


@STAGES.register("quantize")
def run(ctx: StageContext) -> StageOutcome:
    t0 = time.perf_counter()
    cfg, task, info = ctx.cfg.quantize, ctx.task, ctx.task.info
    fp32 = ctx.work.require("export", "quantize")
    calib = task.calibration(cfg.calibration_frames)
    if len(calib.frames) < cfg.min_calibration_frames:
        raise InputError(f"calibration data too small: {len(calib.frames)} frames from {calib.source}, "
                         f"need >= quantize.min_calibration_frames={cfg.min_calibration_frames}; point data_dir "
                         "at the development data or lower the minimum")
    reference = ctx.work.outcome("export")["value"]
    dst, excluded, attempts = ctx.work.path("quantize"), [], []
    with ctx.bar(cfg.max_float_layers + 1, "quantize") as bar:
        while True:
            METHODS[cfg.method](fp32, dst, calib.frames, excluded, cfg.per_tensor_activations)
            rewritten = to_int8_zero_points(dst)
            check_onnx(dst).raise_if_failed()
            metrics = task.evaluate(ort_predict(dst))
            worse = task.worse_by(reference, metrics[info.metric])
            attempts.append({"float_layers": list(excluded), info.metric: metrics[info.metric]})
            bar.update(1)
            if worse <= cfg.budget or len(excluded) >= cfg.max_float_layers:
                break
            errs = layer_errors(fp32, dst, calib.frames[:8])
            candidates = sorted((e, n) for n, e in errs.items() if n not in excluded)
            if not candidates:
                break
            excluded = excluded + [candidates[-1][1]]
    best = max(attempts, key=lambda a: a[info.metric] if info.higher_is_better else -a[info.metric])
    if worse > cfg.budget and best["float_layers"] != excluded:  # greedy is not monotonic: keep the best try
        excluded = list(best["float_layers"])
        METHODS[cfg.method](fp32, dst, calib.frames, excluded, cfg.per_tensor_activations)
        rewritten = to_int8_zero_points(dst)
        check_onnx(dst).raise_if_failed()
        metrics = task.evaluate(ort_predict(dst))
        worse = task.worse_by(reference, metrics[info.metric])
    probe = calib.frames[:4]
    err = compare_outputs(ort_predict(fp32)(probe), ort_predict(dst)(probe), "int8")
    ctx.work.remember("calibration", {"sha256": calib.sha256, "n_frames": int(len(calib.frames)),
                                      "source": calib.source})
    profile = {"onnx_bytes": dst.stat().st_size, **onnx_latency_ms(dst, info.input_shape)}
    return StageOutcome("quantize", info.metric, "export", reference, metrics[info.metric], worse, cfg.budget,
                        metrics, profile,
                        {"method": cfg.method, "per_tensor_activations": cfg.per_tensor_activations,
                         "float_layers": excluded, "attempts": attempts,
                         "zero_point_rewrites": rewritten, "max_rel_output_error_vs_fp32": err,
                         "calibration_frames": int(len(calib.frames)), "calibration_sha256": calib.sha256},
                        time.perf_counter() - t0)
