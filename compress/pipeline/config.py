"""The pipeline config (one YAML file per task): schema, defaults and validation, all up front.

Every section is a frozen dataclass; unknown keys, wrong types, impossible values and conflicting options
raise ConfigError naming the key and what would be valid. Budgets are in the task metric's own units
(macro-F1 points for planes, mm of HC mean absolute error for biometry) and mean "may get this much worse".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from edge.config import check_keys, typed
from edge.errors import ConfigError

TOP_KEYS = {"task", "task_options", "data_dir", "output", "work_dir", "version", "seed", "threads",
            "teacher", "student", "distill", "prune", "export", "quantize"}


@dataclass(frozen=True)
class TeacherSettings:
    checkpoint: str | None = None  # required unless train_steps > 0 (smoke runs only) or enabled is false
    train_steps: int = 0
    enabled: bool = True           # false: a student trained on labels alone goes through without a teacher


@dataclass(frozen=True)
class StudentSettings:
    width_mult: float = 0.25
    checkpoint: str | None = None  # optional warm start (state_dict of build_student(width_mult))


@dataclass(frozen=True)
class DistillSettings:
    steps: int = 600
    batch_size: int = 16
    lr: float = 2e-3
    temperature: float = 4.0
    alpha: float = 0.7
    feature_weight: float = 0.0
    feature_layers: tuple[str, str] | None = None  # (teacher module name, student module name)
    budget: float = 5.0  # vs the teacher


@dataclass(frozen=True)
class PruneSettings:
    enabled: bool = True
    ratio: float | None = 0.3
    max_macs_vs_teacher: float | None = None  # search the ratio so that MACs <= this fraction of the teacher's
    finetune_steps: int = 200
    batch_size: int = 16
    lr: float = 1e-3
    budget: float = 1.0  # vs the distilled student


@dataclass(frozen=True)
class ExportSettings:
    opset: int = 17
    budget: float = 0.01  # ONNX FP32 vs the torch model, metric units
    atol: float = 1e-3  # max |onnxruntime - torch| on raw outputs, relative to max |torch|


@dataclass(frozen=True)
class QuantizeSettings:
    method: str = "nncf"  # "nncf" | "ort"
    calibration_frames: int = 128
    min_calibration_frames: int = 16
    max_float_layers: int = 4
    budget: float = 0.5  # INT8 vs FP32 ONNX


@dataclass(frozen=True)
class PipelineConfig:
    task: str
    output: Path
    work_dir: Path
    data_dir: Path | None = None
    task_options: dict[str, Any] = field(default_factory=dict)
    version: str = "1.0.0"
    seed: int = 0
    threads: int = 1
    teacher: TeacherSettings = TeacherSettings()
    student: StudentSettings = StudentSettings()
    distill: DistillSettings = DistillSettings()
    prune: PruneSettings = PruneSettings()
    export: ExportSettings = ExportSettings()
    quantize: QuantizeSettings = QuantizeSettings()
    source: Path | None = None
    base: Path = Path(".")

    def resolve(self, value: str | Path) -> Path:
        """A path from the config: relative paths are relative to the project root."""
        p = Path(value)
        return p if p.is_absolute() else self.base / p


def _budget(d: Mapping[str, Any], section: str, default: float) -> float:
    return typed(d, section, "budget", float, default, lo=0.0, hi=1e6)


def _teacher(d: Any) -> TeacherSettings:
    d = check_keys(d, "teacher", {"checkpoint", "train_steps", "enabled"})
    s = TeacherSettings(typed(d, "teacher", "checkpoint", str), typed(d, "teacher", "train_steps", int, 0, lo=0),
                        typed(d, "teacher", "enabled", bool, True))
    if not s.enabled:
        if s.checkpoint is not None or s.train_steps:
            raise ConfigError("teacher.enabled: false conflicts with teacher.checkpoint / teacher.train_steps")
        return s
    if s.checkpoint is None and s.train_steps == 0:
        raise ConfigError("teacher: give teacher.checkpoint (a trained teacher's .pt file); "
                          "teacher.train_steps > 0 trains one from scratch and is meant for smoke runs only")
    if s.checkpoint is not None and s.train_steps:
        raise ConfigError("teacher.checkpoint and teacher.train_steps conflict: use one of them")
    return s


def _student(d: Any) -> StudentSettings:
    d = check_keys(d, "student", {"width_mult", "checkpoint"})
    return StudentSettings(typed(d, "student", "width_mult", float, 0.25, lo=0.01, hi=4.0),
                           typed(d, "student", "checkpoint", str))


def _distill(d: Any) -> DistillSettings:
    s = "distill"
    d = check_keys(d, s, {"steps", "batch_size", "lr", "temperature", "alpha", "feature_weight",
                          "feature_layers", "budget"})
    layers = d.get("feature_layers")
    if layers is not None and not (isinstance(layers, list) and len(layers) == 2
                                   and all(isinstance(v, str) for v in layers)):
        raise ConfigError(f"distill.feature_layers = {layers!r}: expected [teacher_module, student_module]")
    weight = typed(d, s, "feature_weight", float, 0.0, lo=0.0, hi=100.0)
    if weight > 0 and layers is None:
        raise ConfigError("distill.feature_weight > 0 needs distill.feature_layers [teacher_module, student_module]")
    return DistillSettings(typed(d, s, "steps", int, 600, lo=0, hi=1_000_000), typed(d, s, "batch_size", int, 16, lo=1),
                           typed(d, s, "lr", float, 2e-3, lo=1e-7, hi=1.0),
                           typed(d, s, "temperature", float, 4.0, lo=0.1, hi=100.0),
                           typed(d, s, "alpha", float, 0.7, lo=0.0, hi=1.0), weight,
                           tuple(layers) if layers else None, _budget(d, s, 5.0))


def _prune(d: Any) -> PruneSettings:
    s = "prune"
    d = check_keys(d, s, {"enabled", "ratio", "max_macs_vs_teacher", "finetune_steps", "batch_size", "lr", "budget"})
    ratio = typed(d, s, "ratio", float, None, lo=0.0, hi=0.95)
    macs = typed(d, s, "max_macs_vs_teacher", float, None, lo=1e-4, hi=1.0)
    if ratio is not None and macs is not None:
        raise ConfigError("prune.ratio and prune.max_macs_vs_teacher conflict: give a fixed ratio or a MACs "
                          "budget to search under, not both")
    enabled = typed(d, s, "enabled", bool, True)
    if enabled and ratio is None and macs is None:
        raise ConfigError("prune: give prune.ratio (0..0.95) or prune.max_macs_vs_teacher (e.g. 0.1), "
                          "or set prune.enabled: false")
    return PruneSettings(enabled, ratio, macs, typed(d, s, "finetune_steps", int, 200, lo=0),
                         typed(d, s, "batch_size", int, 16, lo=1), typed(d, s, "lr", float, 1e-3, lo=1e-7, hi=1.0),
                         _budget(d, s, 1.0))


def _export(d: Any) -> ExportSettings:
    d = check_keys(d, "export", {"opset", "budget", "atol"})
    return ExportSettings(typed(d, "export", "opset", int, 17, lo=11, hi=17), _budget(d, "export", 0.01),
                          typed(d, "export", "atol", float, 1e-3, lo=0.0, hi=1.0))


def _quantize(d: Any) -> QuantizeSettings:
    s = "quantize"
    d = check_keys(d, s, {"method", "calibration_frames", "min_calibration_frames", "max_float_layers", "budget"})
    q = QuantizeSettings(typed(d, s, "method", str, "nncf", choices=("nncf", "ort")),
                         typed(d, s, "calibration_frames", int, 128, lo=1, hi=100_000),
                         typed(d, s, "min_calibration_frames", int, 16, lo=1),
                         typed(d, s, "max_float_layers", int, 4, lo=0, hi=100), _budget(d, s, 0.5))
    if q.min_calibration_frames > q.calibration_frames:
        raise ConfigError(f"quantize.min_calibration_frames ({q.min_calibration_frames}) exceeds "
                          f"quantize.calibration_frames ({q.calibration_frames})")
    return q


def parse_pipeline_config(raw: Any, source: Path | None = None, base: Path | None = None) -> PipelineConfig:
    """Validate a raw mapping; relative paths are resolved against `base` (the project root by default)."""
    from compress.paths import REPO_ROOT
    from compress.tasks import TASK_NAMES

    where = str(source or "pipeline config")
    raw = check_keys(raw, where, TOP_KEYS, required={"task", "output", "work_dir"})
    base = base or REPO_ROOT
    task = typed(raw, where, "task", str, choices=TASK_NAMES)
    options = raw.get("task_options") or {}
    if not isinstance(options, Mapping):
        raise ConfigError(f"{where}: task_options must be a mapping, got {type(options).__name__}")

    def path(key: str) -> Path | None:
        v = typed(raw, where, key, str)
        return None if v is None else (base / v if not Path(v).is_absolute() else Path(v))

    version = str(raw.get("version", "1.0.0"))
    cfg = PipelineConfig(task=task, output=path("output"), work_dir=path("work_dir"), data_dir=path("data_dir"),
                         task_options=dict(options), version=version,
                         seed=typed(raw, where, "seed", int, 0), threads=typed(raw, where, "threads", int, 1, lo=1, hi=64),
                         teacher=_teacher(raw.get("teacher")), student=_student(raw.get("student")),
                         distill=_distill(raw.get("distill")), prune=_prune(raw.get("prune")),
                         export=_export(raw.get("export")), quantize=_quantize(raw.get("quantize")), source=source,
                         base=base)
    if not cfg.teacher.enabled and (cfg.distill.steps or cfg.prune.enabled or not cfg.student.checkpoint):
        raise ConfigError(f"{where}: teacher.enabled: false needs distill.steps: 0, prune.enabled: false and a "
                          "student.checkpoint (a student trained on the labels alone); distillation and pruning's "
                          "fine-tuning learn from the teacher")
    return cfg


def load_pipeline_config(path: str | Path) -> PipelineConfig:
    from edge.config import read_yaml

    path = Path(path)
    raw = read_yaml(path, "pipeline config", "see compress/configs/ for one per task")
    return parse_pipeline_config(raw, path)
