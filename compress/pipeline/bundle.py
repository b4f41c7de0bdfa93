"""Bundle writer: ONNX INT8 (model.onnx, the primary file) + ONNX FP32 (for FP16 engines on devices without
INT8) + manifest.json (compress.pipeline.manifest) + compression report + model card.

Everything is written to a temporary directory beside the target and renamed into place at the end, so a
failure never leaves a half-written bundle; an existing bundle is replaced only once the new one is complete.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from compress.onnx_checks import check_onnx
from compress.pipeline.card import model_card, stages_run
from compress.pipeline.config import PipelineConfig
from compress.pipeline.manifest import git_commit, manifest_dict, write_manifest
from compress.pipeline.report import build_report, report_markdown
from compress.pipeline.workdir import WorkDir
from compress.tasks.base import TaskAdapter
from edge.errors import ModelError

MAX_MODEL_BYTES = 2 * 1024 * 1024
MODEL_FILE, FP32_FILE = "model.onnx", "model_fp32.onnx"


def _numbers(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    return {f"{prefix}{k}": float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _metrics(state: dict[str, Any], metric: str, final: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Top level: the shipped INT8 graph (on the final split when the task has one, else the gate's split);
    `<stage>.<metric>` after each stage on the gate's split; `fp32.<key>` the FP32 graph on the final split."""
    out = _numbers(state["outcomes"]["quantize"]["metrics"])
    teacher = state["values"].get("teacher")
    if teacher:
        out[f"teacher.{metric}"] = float(teacher["metrics"][metric])
    for stage, o in state["outcomes"].items():
        out[f"{stage}.{metric}"] = float(o["value"])
    out.update(_numbers(final["int8"]))
    out.update(_numbers(final["fp32"], "fp32."))
    if "eval_split" in final["int8"]:
        out["eval_split"] = final["int8"]["eval_split"]
    return out


def _provenance(cfg: PipelineConfig, task: TaskAdapter) -> dict[str, Any]:
    return {"training_data": task.info.training_data, "split": task.info.split,
            "student": f"{cfg.student.family} (width_mult {cfg.student.width_mult}, init {cfg.student.init}); "
                       + ", ".join(stages_run(cfg)),
            "architecture": cfg.student.family,
            "teacher": (cfg.teacher.family or "the task's teacher") if cfg.teacher.enabled else None,
            "pipeline_config": str(cfg.source.relative_to(cfg.base) if cfg.source and cfg.source.is_relative_to(cfg.base)
                                   else cfg.source),
            "git_commit": git_commit(cfg.base)}


def installed_model(name: str) -> Path | None:
    from edge.models import MODELS_DIR

    d = MODELS_DIR / name
    return d if (d / "manifest.json").is_file() else None


def _check(cfg: PipelineConfig, work: WorkDir) -> tuple[Path, Path, dict[str, Any]]:
    int8, fp32 = work.require("quantize", "bundle"), work.require("export", "bundle")
    for p in (int8, fp32):
        check_onnx(p).raise_if_failed()
        if p.stat().st_size > MAX_MODEL_BYTES:
            raise ModelError(f"{p} is {p.stat().st_size} bytes > {MAX_MODEL_BYTES} allowed for a shipped model; "
                             "use a smaller student.width_mult or a larger prune ratio")
    state = work.state()
    failed = [s for s, o in state["outcomes"].items() if not o["passed"]]
    if failed:
        raise ModelError(f"stages {failed} are over their accuracy budget; no bundle is written")
    return int8, fp32, state


def write_bundle(cfg: PipelineConfig, task: TaskAdapter, work: WorkDir) -> Path:
    """Check both ONNX files, then write the bundle atomically to cfg.output; returns its path."""
    from compress.stages.common import ort_predict

    int8, fp32, state = _check(cfg, work)
    report = build_report(state, task.info.metric, cfg.task)
    md = report_markdown(report)
    out = cfg.output
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        shutil.copyfile(int8, tmp / MODEL_FILE)
        shutil.copyfile(fp32, tmp / FP32_FILE)
        (tmp / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        (tmp / "report.md").write_text(md, encoding="utf-8")
        int8_predict = ort_predict(tmp / MODEL_FILE)
        final = {"int8": task.final_metrics(int8_predict), "fp32": task.final_metrics(ort_predict(tmp / FP32_FILE))}
        card = model_card(cfg, task, md, task.card_results(final, installed_model(task.info.model_name)))
        (tmp / "MODEL_CARD.md").write_text(card, encoding="utf-8")
        extra = task.manifest_extra(int8_predict)
        provenance = {**(extra.pop("provenance", None) or {}), **_provenance(cfg, task)}
        info = task.info
        manifest = manifest_dict(tmp, name=info.model_name, version=cfg.version, task=info.task, model_file=MODEL_FILE,
                                 precision="int8", input_shape=info.input_shape, output_kind=info.output_kind,
                                 class_names=info.class_names, preprocessing=info.preprocessing,
                                 provenance=provenance, metrics=_metrics(state, info.metric, final),
                                 variants={"int8": MODEL_FILE, "fp32": FP32_FILE}, opset=cfg.export.opset,
                                 calibration=state["values"].get("calibration"), compression_report="report.json",
                                 **extra)
        write_manifest(tmp, manifest)  # read back as the runtime will
        old = out.parent / f".{out.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
