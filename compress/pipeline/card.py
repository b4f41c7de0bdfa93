"""The model card every bundle carries, written by the run that made the bundle: what the model is, the recipe
that made it (from the config), its results (the task's section), the compression report, the hand-written
notes the recipe names (`card_notes`: what it does, limits, evidence) and the one command that rebuilds it."""

from __future__ import annotations

from compress.pipeline.config import PipelineConfig
from compress.tasks.base import TaskAdapter


def _stages(cfg: PipelineConfig) -> list[tuple[str, str]]:
    """(short, long) description of what was done to the student, in order, as the config says."""
    t, s = cfg.train, cfg.student
    start = {"scratch": "from random weights", "sononet16": "with its filters cut from SonoNet-16's published "
                                                            "weights",
             "recipe": "trained by the task's own recipe (task_options)"}.get(s.init, f"from the checkpoint {s.init}")
    if not t.epochs:
        out = [("taken as is (no training here)", f"the student {start}, taken as is (train.epochs 0)")]
    elif cfg.teacher.enabled:
        out = [(f"distilled {t.epochs} epochs", f"{s.family} {start}, trained {t.epochs} epochs on the teacher's "
                                                f"logits (T = {cfg.distill.temperature}, alpha {cfg.distill.alpha}) "
                                                "and the labels")]
    else:
        out = [(f"trained {t.epochs} epochs on labels, no teacher",
                f"{s.family} {start}, trained {t.epochs} epochs on the labels alone (no teacher), AdamW, "
                f"{t.schedule.replace('_', '-')} LR peak {t.lr:g}, batch {t.batch_size}, "
                + ("the epoch with the best validation score kept" if t.select == "best_val" else "last epoch kept"))]
    if cfg.prune.enabled:
        out.append(("pruning tried", "structured channel pruning (torch-pruning) with fine-tuning, kept only where "
                                     "its gate allows (report: ratio kept)"))
    if cfg.calibrate.enabled:
        out.append(("post-processing calibrated", "post-processing calibrated on validation data"))
    acts = "per-tensor activations" if cfg.quantize.per_tensor_activations else "activation scales as NNCF chose"
    return out + [("INT8 PTQ", "ONNX export (opset 17), INT8 post-training quantisation to an explicit QDQ graph "
                               f"(symmetric, int8 zero points, per-channel weights, {acts}) calibrated on real "
                               "training frames")]


def stages_run(cfg: PipelineConfig) -> list[str]:
    """What was done to the student, in order (a stage with no steps or switched off did nothing)."""
    return [short for short, _ in _stages(cfg)]


def model_card(cfg: PipelineConfig, task: TaskAdapter, report_md: str, results_md: str) -> str:
    info = task.info
    source = cfg.source.relative_to(cfg.base) if cfg.source and cfg.source.is_relative_to(cfg.base) else cfg.source
    teacher = (cfg.teacher.checkpoint or f"{cfg.teacher.family} trained here") if cfg.teacher.enabled else "none"
    notes = cfg.card_notes.read_text(encoding="utf-8").strip() + "\n\n" if cfg.card_notes else ""
    return (f"# {info.model_name} {cfg.version}\n\n"
            f"Task: {info.task}; input {list(info.input_shape)}; output {info.output_kind}. model.onnx is INT8 "
            "(QDQ, for TensorRT INT8); model_fp32.onnx is the FP32 graph (FP16 engines on GPUs without INT8, and "
            "the faster graph on onnxruntime CPUs).\n"
            f"Trained on: {info.training_data}; split: {info.split}.\nTeacher: {teacher}.\n\n"
            f"How it was made: {'; '.join(long for _, long in _stages(cfg))}. Every stage passed its accuracy "
            f"budget.\n\nRebuild it: `fetal-compress pipeline --task {cfg.task} --config {source}`, then "
            "`fetal-compress ship <output>` installs it into edge/models/.\n\n"
            f"{results_md}\n{notes}{report_md}\nManifest metrics: top level = the shipped INT8 graph (on "
            "`metrics.eval_split` when given, else the gate's validation split); `fp32.<metric>` = the FP32 graph on "
            "the same split; `<stage>.<metric>` = after each stage, on the validation split the gate used.\n")
