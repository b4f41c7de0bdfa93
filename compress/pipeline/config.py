"""The pipeline config (one YAML file per model): the whole recipe, validated up front.

Every section is a frozen dataclass; unknown keys, wrong types, impossible values and conflicting options
raise ConfigError naming the key and what would be valid. Budgets are in the task metric's own units
(macro-F1 points for planes, mm of HC mean absolute error for biometry) and mean "may get this much worse".
Files the recipe names (teacher checkpoint, warm-start student, card notes, SonoNet-16 weights) are checked by
`check_inputs` before any work starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from edge.config import check_keys, typed
from edge.errors import ConfigError, ModelError

TOP_KEYS = {"task", "task_options", "data_dir", "output", "work_dir", "version", "seed", "threads", "card_notes",
            "teacher", "student", "train", "distill", "prune", "calibrate", "export", "quantize"}
INITS = ("scratch", "sononet16", "recipe")   # student.init: one of these, or a checkpoint path
RECIPE = "recipe"  # student.init / teacher.checkpoint: trained by the task's own recipe (task_options)
SELECT = ("last", "best_val")


@dataclass(frozen=True)
class TeacherSettings:
    enabled: bool = True           # false: the student learns from the labels alone
    family: str | None = None      # None: the task's own teacher (planes: SonoNet-16 + head)
    width_mult: float = 1.0
    checkpoint: str | None = None  # a trained teacher; or train_epochs > 0 (smoke runs) trains one here
    train_epochs: int = 0


@dataclass(frozen=True)
class StudentSettings:
    family: str = ""               # compress.nets.families name, e.g. sono-seg
    width_mult: float = 1.0
    init: str = "scratch"          # scratch | sononet16 | path of a checkpoint to start from


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 10               # 0: the student is taken as `init` gives it
    batch_size: int = 16
    lr: float = 1e-3
    schedule: str = "one_cycle"
    weight_decay: float = 1e-4
    warmup: float = 0.1
    select: str = "last"           # best_val: keep the epoch with the best validation score (task-defined)
    budget: float = 5.0            # vs the teacher (no teacher: no gate)


@dataclass(frozen=True)
class DistillSettings:
    temperature: float = 4.0
    alpha: float = 0.7
    feature_weight: float = 0.0
    feature_layers: tuple[str, str] | None = None  # (teacher module name, student module name)


@dataclass(frozen=True)
class PruneSettings:
    enabled: bool = True
    ratios: tuple[float, ...] = ()                # tried in order; the first within budget is kept
    max_macs_vs_teacher: float | None = None      # search the ratio so that MACs <= this fraction of the teacher's
    finetune_steps: int = 200
    batch_size: int = 16
    lr: float = 1e-3
    budget: float = 1.0                           # vs the trained student


@dataclass(frozen=True)
class CalibrateSettings:
    enabled: bool = True
    budget: float = 0.0            # calibrated post-processing vs the defaults (must not be worse)


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
    per_tensor_activations: bool = True  # one scale per activation tensor: all TensorRT accepts


@dataclass(frozen=True)
class PipelineConfig:
    task: str
    output: Path
    work_dir: Path
    student: StudentSettings
    data_dir: Path | None = None
    task_options: dict[str, Any] = field(default_factory=dict)
    version: str = "1.0.0"
    seed: int = 0
    threads: int = 1
    card_notes: Path | None = None
    teacher: TeacherSettings = TeacherSettings()
    train: TrainSettings = TrainSettings()
    distill: DistillSettings = DistillSettings()
    prune: PruneSettings = PruneSettings(enabled=False)
    calibrate: CalibrateSettings = CalibrateSettings()
    export: ExportSettings = ExportSettings()
    quantize: QuantizeSettings = QuantizeSettings()
    source: Path | None = None
    base: Path = Path(".")

    def resolve(self, value: str | Path) -> Path:
        """A path from the config: relative paths are relative to the project root."""
        p = Path(value)
        return p if p.is_absolute() else self.base / p

    @property
    def init_checkpoint(self) -> Path | None:
        return None if self.student.init in INITS else self.resolve(self.student.init)


def _budget(d: Mapping[str, Any], section: str, default: float) -> float:
    return typed(d, section, "budget", float, default, lo=0.0, hi=1e6)


def _teacher(d: Any) -> TeacherSettings:
    s = "teacher"
    d = check_keys(d, s, {"enabled", "family", "width_mult", "checkpoint", "train_epochs"})
    t = TeacherSettings(typed(d, s, "enabled", bool, True), typed(d, s, "family", str),
                        typed(d, s, "width_mult", float, 1.0, lo=0.01, hi=4.0), typed(d, s, "checkpoint", str),
                        typed(d, s, "train_epochs", int, 0, lo=0))
    if not t.enabled:
        if set(d) - {"enabled"}:
            raise ConfigError(f"teacher.enabled: false conflicts with teacher.{sorted(set(d) - {'enabled'})[0]}; "
                              "drop the other teacher keys or enable the teacher")
        return t
    if t.checkpoint is None and t.train_epochs == 0:
        raise ConfigError("teacher: give teacher.checkpoint (a trained teacher's .pt file), or "
                          "teacher.enabled: false for a student trained on the labels alone "
                          "(teacher.train_epochs > 0 trains one from scratch and is meant for smoke runs only)")
    if t.checkpoint is not None and t.train_epochs:
        raise ConfigError("teacher.checkpoint and teacher.train_epochs conflict: use one of them")
    return t


def _student(d: Any) -> StudentSettings:
    s = "student"
    d = check_keys(d, s, {"family", "width_mult", "init"}, required={"family"})
    return StudentSettings(typed(d, s, "family", str), typed(d, s, "width_mult", float, 1.0, lo=0.01, hi=4.0),
                           typed(d, s, "init", str, "scratch"))


def _train(d: Any) -> TrainSettings:
    s = "train"
    d = check_keys(d, s, {"epochs", "batch_size", "lr", "schedule", "weight_decay", "warmup", "select", "budget"})
    return TrainSettings(typed(d, s, "epochs", int, 10, lo=0, hi=100_000), typed(d, s, "batch_size", int, 16, lo=1),
                         typed(d, s, "lr", float, 1e-3, lo=1e-7, hi=1.0),
                         typed(d, s, "schedule", str, "one_cycle", choices=("one_cycle", "cosine")),
                         typed(d, s, "weight_decay", float, 1e-4, lo=0.0, hi=1.0),
                         typed(d, s, "warmup", float, 0.1, lo=0.0, hi=0.9),
                         typed(d, s, "select", str, "last", choices=SELECT), _budget(d, s, 5.0))


def _distill(d: Any) -> DistillSettings:
    s = "distill"
    d = check_keys(d, s, {"temperature", "alpha", "feature_weight", "feature_layers"})
    layers = d.get("feature_layers")
    if layers is not None and not (isinstance(layers, list) and len(layers) == 2
                                   and all(isinstance(v, str) for v in layers)):
        raise ConfigError(f"distill.feature_layers = {layers!r}: expected [teacher_module, student_module]")
    weight = typed(d, s, "feature_weight", float, 0.0, lo=0.0, hi=100.0)
    if weight > 0 and layers is None:
        raise ConfigError("distill.feature_weight > 0 needs distill.feature_layers [teacher_module, student_module]")
    return DistillSettings(typed(d, s, "temperature", float, 4.0, lo=0.1, hi=100.0),
                           typed(d, s, "alpha", float, 0.7, lo=0.0, hi=1.0), weight, tuple(layers) if layers else None)


def _ratios(d: Mapping[str, Any]) -> tuple[float, ...]:
    raw = d.get("ratios", [])
    if not isinstance(raw, list) or not all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in raw):
        raise ConfigError(f"prune.ratios = {raw!r}: expected a list of numbers, e.g. [0.3, 0.2, 0.1]")
    bad = [r for r in raw if not 0.0 < r <= 0.95]
    if bad:
        raise ConfigError(f"prune.ratios {bad}: each ratio must be within (0.0, 0.95]")
    return tuple(float(r) for r in raw)


def _prune(d: Any) -> PruneSettings:
    s = "prune"
    d = check_keys(d, s, {"enabled", "ratios", "max_macs_vs_teacher", "finetune_steps", "batch_size", "lr", "budget"})
    ratios = _ratios(d)
    macs = typed(d, s, "max_macs_vs_teacher", float, None, lo=1e-4, hi=1.0)
    if ratios and macs is not None:
        raise ConfigError("prune.ratios and prune.max_macs_vs_teacher conflict: give ratios to try or a MACs "
                          "budget to search under, not both")
    enabled = typed(d, s, "enabled", bool, True)
    if enabled and not ratios and macs is None:
        raise ConfigError("prune: give prune.ratios (e.g. [0.3, 0.2]) or prune.max_macs_vs_teacher (e.g. 0.1), "
                          "or set prune.enabled: false")
    return PruneSettings(enabled, ratios, macs, typed(d, s, "finetune_steps", int, 200, lo=0),
                         typed(d, s, "batch_size", int, 16, lo=1), typed(d, s, "lr", float, 1e-3, lo=1e-7, hi=1.0),
                         _budget(d, s, 1.0))


def _calibrate(d: Any) -> CalibrateSettings:
    d = check_keys(d, "calibrate", {"enabled", "budget"})
    return CalibrateSettings(typed(d, "calibrate", "enabled", bool, True), _budget(d, "calibrate", 0.0))


def _export(d: Any) -> ExportSettings:
    d = check_keys(d, "export", {"opset", "budget", "atol"})
    return ExportSettings(typed(d, "export", "opset", int, 17, lo=11, hi=17), _budget(d, "export", 0.01),
                          typed(d, "export", "atol", float, 1e-3, lo=0.0, hi=1.0))


def _quantize(d: Any) -> QuantizeSettings:
    s = "quantize"
    d = check_keys(d, s, {"method", "calibration_frames", "min_calibration_frames", "max_float_layers", "budget",
                          "per_tensor_activations"})
    q = QuantizeSettings(typed(d, s, "method", str, "nncf", choices=("nncf", "ort")),
                         typed(d, s, "calibration_frames", int, 128, lo=1, hi=100_000),
                         typed(d, s, "min_calibration_frames", int, 16, lo=1),
                         typed(d, s, "max_float_layers", int, 4, lo=0, hi=100), _budget(d, s, 0.5),
                         typed(d, s, "per_tensor_activations", bool, True))
    if q.min_calibration_frames > q.calibration_frames:
        raise ConfigError(f"quantize.min_calibration_frames ({q.min_calibration_frames}) exceeds "
                          f"quantize.calibration_frames ({q.calibration_frames})")
    return q


def _check_combination(cfg: PipelineConfig, where: str, given: set[str]) -> None:
    if not cfg.teacher.enabled:
        if "distill" in given:
            raise ConfigError(f"{where}: distill settings need a teacher; drop the distill section or enable the teacher")
        if cfg.prune.enabled and cfg.prune.max_macs_vs_teacher is not None:
            raise ConfigError(f"{where}: prune.max_macs_vs_teacher needs a teacher to measure against; give "
                              "prune.ratios instead")
    if cfg.train.epochs == 0 and cfg.student.init in ("scratch", "sononet16"):
        raise ConfigError(f"{where}: train.epochs 0 takes the student as student.init gives it, so student.init must "
                          f"be a trained checkpoint, not {cfg.student.init!r}")
    if cfg.train.epochs == 0 and cfg.teacher.enabled and "distill" in given:
        raise ConfigError(f"{where}: distill settings with train.epochs 0 do nothing; drop them or train the student")


def parse_pipeline_config(raw: Any, source: Path | None = None, base: Path | None = None) -> PipelineConfig:
    """Validate a raw mapping; relative paths are resolved against `base` (the project root by default)."""
    from compress.paths import REPO_ROOT
    from compress.tasks import TASK_NAMES

    where = str(source or "pipeline config")
    raw = check_keys(raw, where, TOP_KEYS, required={"task", "output", "work_dir", "student"})
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
                         task_options=dict(options), version=version, card_notes=path("card_notes"),
                         seed=typed(raw, where, "seed", int, 0), threads=typed(raw, where, "threads", int, 1, lo=1, hi=64),
                         teacher=_teacher(raw.get("teacher")), student=_student(raw.get("student")),
                         train=_train(raw.get("train")), distill=_distill(raw.get("distill")),
                         prune=_prune(raw.get("prune") or {"enabled": False}), calibrate=_calibrate(raw.get("calibrate")),
                         export=_export(raw.get("export")), quantize=_quantize(raw.get("quantize")), source=source,
                         base=base)
    _check_combination(cfg, where, {k for k, v in raw.items() if v})
    return cfg


def check_inputs(cfg: PipelineConfig, data_dir: Path) -> None:
    """Every file the recipe names must exist before any work starts (ModelError / ConfigError naming it)."""
    if (cfg.teacher.enabled and cfg.teacher.checkpoint not in (None, RECIPE)
            and not cfg.resolve(cfg.teacher.checkpoint).is_file()):
        raise ModelError(f"teacher checkpoint {cfg.resolve(cfg.teacher.checkpoint)} not found; train the teacher "
                         "first or fix teacher.checkpoint in the recipe")
    init = cfg.init_checkpoint
    if init is not None and not init.is_file():
        raise ModelError(f"student.init checkpoint {init} not found; give an existing checkpoint, or one of {INITS}")
    npz = sononet_weights(data_dir)
    if cfg.student.init == "sononet16" and not npz.is_file():
        raise ConfigError(f"student.init sononet16 needs SonoNet-16's published weights at {npz}; point data_dir at "
                          "the shared data folder (it holds peers/sononet/)")
    if cfg.card_notes is not None and not cfg.card_notes.is_file():
        raise ConfigError(f"card_notes {cfg.card_notes} not found; give the Markdown file the model card includes")


def sononet_weights(data_dir: Path) -> Path:
    """SonoNet-16's published weights in the shared data folder."""
    return Path(data_dir) / "peers" / "sononet" / "SonoNet16.npz"


def overlay(raw: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """`raw` with `patch` laid over it, section by section (how --smoke shrinks a recipe)."""
    out = dict(raw)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = overlay(dict(out[key]), value)
        else:
            out[key] = value
    return out


def load_pipeline_config(path: str | Path, smoke: Path | None = None, **overrides: str) -> PipelineConfig:
    """Read and validate a recipe; `smoke` names a file whose section for this task is laid over it,
    `overrides` (output, work_dir) replace those keys."""
    from edge.config import read_yaml

    path = Path(path)
    raw = read_yaml(path, "pipeline config", "see compress/configs/ for one per model")
    if smoke is not None:
        patches = read_yaml(smoke, "smoke config", "see compress/configs/smoke.yaml")
        task = raw.get("task") if isinstance(raw, Mapping) else None
        if not isinstance(patches, Mapping) or not isinstance(patches.get(task), Mapping):
            raise ConfigError(f"{smoke} has no smoke section for task {task!r}; add one (a few frames, a few steps)")
        raw = overlay(dict(raw), patches[task])
    raw = {**raw, **{k: str(v) for k, v in overrides.items() if v is not None}}
    return parse_pipeline_config(raw, path)
