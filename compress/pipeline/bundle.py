"""Bundle writer: ONNX INT8 (model.onnx, the primary file) + ONNX FP32 (for FP16 engines on devices without
INT8) + manifest.json (edge/manifest.py format) + compression report + model card.

Everything is written to a temporary directory beside the target and renamed into place at the end, so a
failure never leaves a half-written bundle; an existing bundle is replaced only once the new one is complete.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from compress.onnx_checks import check_onnx
from compress.pipeline.config import PipelineConfig
from compress.pipeline.report import build_report, report_markdown
from compress.pipeline.workdir import WorkDir
from compress.tasks.base import TaskAdapter
from compress.stages.export import INPUT_NAME, OUTPUT_NAME
from edge.errors import ModelError
from edge.manifest import MANIFEST_FORMAT, file_entry, load_manifest

MAX_MODEL_BYTES = 2 * 1024 * 1024
MODEL_FILE, FP32_FILE = "model.onnx", "model_fp32.onnx"


def _git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _metrics(state: dict[str, Any], metric: str) -> dict[str, float]:
    out = {k: float(v) for k, v in state["outcomes"]["quantize"]["metrics"].items()}
    teacher = state["values"].get("teacher")
    if teacher:
        out[f"teacher.{metric}"] = float(teacher["metrics"][metric])
    for stage, o in state["outcomes"].items():
        out[f"{stage}.{metric}"] = float(o["value"])
    return out


def manifest_dict(cfg: PipelineConfig, task: TaskAdapter, state: dict[str, Any], files: dict[str, Any]) -> dict:
    info = task.info
    return {
        "format": MANIFEST_FORMAT, "name": info.model_name, "version": cfg.version, "task": info.task,
        "model_file": MODEL_FILE, "files": files, "precision": "int8", "opset": cfg.export.opset,
        "variants": {"int8": MODEL_FILE, "fp32": FP32_FILE},
        "input": {"name": INPUT_NAME, "shape": list(info.input_shape), "dtype": "float32"},
        "output": {"name": OUTPUT_NAME, "kind": info.output_kind, "class_names": list(info.class_names)},
        "preprocessing": info.preprocessing,
        "calibration": state["values"].get("calibration"),
        "provenance": {"training_data": info.training_data, "split": info.split,
                       "source_checkpoint": _source(cfg),
                       "student": f"width_mult {cfg.student.width_mult}, {', '.join(stages_run(cfg))}",
                       "architecture": info.architecture,
                       "pipeline_config": str(cfg.source) if cfg.source else None,
                       "git_commit": _git_commit(cfg.base)},
        "metrics": _metrics(state, info.metric),
        "compression_report": "report.json",
    }


def _source(cfg: PipelineConfig) -> str:
    if not cfg.teacher.enabled:
        return f"student {cfg.student.checkpoint} (no teacher)"
    return cfg.teacher.checkpoint or f"teacher trained {cfg.teacher.train_steps} steps"


def _stages(cfg: PipelineConfig) -> list[tuple[str, str]]:
    """(short, long) description of what was done to the student, in order, as the config says."""
    if not cfg.teacher.enabled:
        out = [("trained on labels alone, no teacher", "the warm-start student trained on the labels alone, taken "
                                                       "as is (no teacher: no distillation, no teacher gate)")]
    else:
        out = [(f"distilled {cfg.distill.steps} steps", "logit distillation from the teacher into a smaller student")
               if cfg.distill.steps else
               ("not distilled here (warm start as is)", "the warm-start student taken as is (distillation steps: 0; "
                                                          "the distill stage only gates it against the teacher)")]
    if cfg.prune.enabled:
        out.append(("pruned", "structured channel pruning (torch-pruning) with distillation fine-tuning"))
    return out + [("INT8 PTQ", "ONNX export (opset 17), INT8 post-training quantisation to an explicit QDQ graph "
                               "(symmetric, int8 zero points, per-channel weights) calibrated on real training frames")]


def stages_run(cfg: PipelineConfig) -> list[str]:
    """What was done to the student, in order (a stage with no steps or switched off did nothing)."""
    return [short for short, _ in _stages(cfg)]


def _how_made(cfg: PipelineConfig) -> str:
    return ", ".join(long for _, long in _stages(cfg)) + ". Every stage passed its accuracy budget."


def model_card(cfg: PipelineConfig, task: TaskAdapter, report_md: str) -> str:
    info = task.info
    return (f"# {info.model_name} {cfg.version} (INT8, compressed by `fetal-compress pipeline`)\n\n"
            f"Task: {info.task}; input {list(info.input_shape)}; output {info.output_kind}.\n"
            f"Trained on: {info.training_data}; validation split: {info.split}.\n"
            f"Teacher checkpoint: {cfg.teacher.checkpoint if cfg.teacher.enabled else 'none'}; config: {cfg.source}.\n\n"
            f"How it was made: {_how_made(cfg)}\n\n"
            f"{report_md}\nManifest metrics: top level = the shipped INT8 model (on `metrics.eval_split` when "
            "given, else the gate's validation split); `<stage>.<metric>` = after each stage, on the validation "
            "split the gate used.\n\nmodel.onnx is INT8; model_fp32.onnx is the FP32 graph for FP16 TensorRT engines on "
            "devices without INT8 (Jetson Nano).\n")


def write_bundle(cfg: PipelineConfig, task: TaskAdapter, work: WorkDir) -> Path:
    """Check both ONNX files, then write the bundle atomically to cfg.output; returns its path."""
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
        (tmp / "MODEL_CARD.md").write_text(model_card(cfg, task, md), encoding="utf-8")
        files = {p.name: file_entry(p) for p in sorted(tmp.iterdir())}
        from compress.stages.common import ort_predict

        int8_predict = ort_predict(tmp / MODEL_FILE)
        base, extra = manifest_dict(cfg, task, state, files), task.manifest_extra(int8_predict)
        # a task's own provenance (how its warm-start student was trained) is added to the pipeline's
        extra_prov = extra.pop("provenance", None) or {}
        manifest = {**base, **extra, "provenance": {**extra_prov, **base["provenance"]}}
        manifest["metrics"].update(task.final_metrics(int8_predict))
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        load_manifest(tmp, verify=True)  # the runtime must be able to read what we wrote
        old = out.parent / f".{out.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
