"""Stage 4, export: the (pruned) student -> ONNX FP32 (opset 17, legacy exporter, static batch-1 shape),
checked for TensorRT 8.6 and compared with PyTorch; its metric is measured with onnxruntime.

`export_onnx` is the project's one ONNX exporter: every graph that ships or is measured goes through it."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from compress.onnx_checks import check_onnx, compare_outputs
from compress.pipeline.registry import STAGES
from compress.pipeline.workdir import StageOutcome
from compress.stages.common import (StageContext, load_module, onnx_latency_ms, ort_predict, params_and_macs,
                                    torch_predict)

INPUT_NAME = "input"
OUTPUT_NAME = "logits"


def export_onnx(model: nn.Module, input_shape: tuple[int, ...], path: Path, opset: int = 17) -> Path:
    """`model` (eval mode, batch 1) -> ONNX at `path`: legacy exporter, static input `input_shape` named
    "input", output "logits", constants folded (batch norm folded into the convolutions)."""
    model.eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    with torch.no_grad():
        torch.onnx.export(model, (torch.zeros(input_shape),), str(tmp), dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], do_constant_folding=True)
    tmp.replace(path)
    return path


def profile_torch(model: nn.Module, input_shape: tuple[int, ...], threads: int = 2) -> dict[str, Any]:
    """params, MACs, ONNX FP32 file size and onnxruntime latency of a torch model."""
    params, macs = params_and_macs(model, input_shape)
    with tempfile.TemporaryDirectory() as tmp:
        p = export_onnx(model, input_shape, Path(tmp) / "m.onnx")
        return {"params": params, "macs": macs, "onnx_bytes": p.stat().st_size,
                **onnx_latency_ms(p, input_shape, threads=threads)}


def source_model(ctx: StageContext) -> tuple[nn.Module, str]:
    """The model export starts from (pruned, or trained when pruning is off) and the stage whose metric it is
    gated against (calibrate when it ran: the same model with the calibrated post-processing)."""
    from compress.stages.calibrate import source_stage

    src = source_stage(ctx)
    ref = "calibrate" if ctx.cfg.calibrate.enabled else src
    return load_module(ctx.work.require(src, "export")), ref


@STAGES.register("export")
def run(ctx: StageContext) -> StageOutcome:
    t0 = time.perf_counter()
    cfg, info = ctx.cfg.export, ctx.task.info
    model, src = source_model(ctx)
    with ctx.bar(3, "export") as bar:
        path = export_onnx(model, info.input_shape, ctx.work.path("export"), cfg.opset)
        check_onnx(path).raise_if_failed()
        bar.update(1)
        probe = ctx.task.calibration(4).frames
        err = compare_outputs(torch_predict(model)(probe), ort_predict(path)(probe), "fp32")
        if err > cfg.atol:
            from edge.errors import ModelError

            raise ModelError(f"ONNX FP32 output differs from PyTorch by {err:.3g} > export.atol {cfg.atol}")
        bar.update(1)
        metrics = ctx.task.evaluate(ort_predict(path))
        bar.update(1)
    reference = ctx.work.outcome(src)["value"]
    params, macs = params_and_macs(model, info.input_shape)
    profile = {"params": params, "macs": macs, "onnx_bytes": path.stat().st_size,
               **onnx_latency_ms(path, info.input_shape)}
    value = metrics[info.metric]
    return StageOutcome("export", info.metric, src, reference, value, ctx.task.worse_by(reference, value),
                        cfg.budget, metrics, profile, {"max_rel_output_error": err, "probe_frames": int(len(probe)),
                                                      "opset": cfg.opset}, time.perf_counter() - t0)

