"""The plane model's training recipe, read from the pipeline YAML (compress/configs/planes.yaml): its
`task_options` and the student's network (`student.family`: a plane family, sononet-lr since 1.4.0).

`train-planes --config` and `fetal-compress pipeline --task planes` read the same file, and every trained
result (student checkpoints, CV predictions) is stored under a key of the recipe and the data
(`compress.planes.workflow.recipe_key`), so the pipeline finds exactly the checkpoint its recipe made, or
trains it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

from compress.planes.distill import DistillConfig
from edge.errors import ConfigError


@dataclass(frozen=True)
class PlaneRecipe:
    cache_dir: str = "runs/planes"
    n_aug: int = 40                 # augmented full frames per development image
    hc18_images: int = 80           # HC18 train-split heads added as trans-thalamic
    n_junk: int = 2700              # junk-class training frames (compress.planes.junk), all kinds in turn
    junk_seed: int = 0
    student_arch: str = "sononet-lr"  # the YAML's student.family (not a task_options key)
    lr: float = 1e-3                # peak learning rate
    feature_hint: float = 1.0       # weight of the feature hint (pooled student features -> SonoNet features)
    map_hint: float = 0.0           # the spatial hint, tried and dropped (docs/decisions.md, 1 Dec): only 0
    epochs: int = 40                # at most, for the shipped student
    max_minutes: float = 45.0       # CPU budget of the shipped student (LR annealed on time)
    continue_minutes: float = 25.0  # then a second cycle at peak LR / 3
    folds: int = 5                  # patient-grouped CV: calibration (temperature, unknown threshold) + CV table
    cv_epochs: int = 12
    cv_max_minutes: float = 8.0
    target_accuracy: float = 0.97   # unknown threshold: lowest confidence whose answered CV frames reach this

    def __post_init__(self) -> None:
        from compress.nets.families import family_names

        if self.student_arch not in family_names("planes"):
            raise ConfigError(f"student.family {self.student_arch!r} is not a registered plane family; choose one of "
                              f"{family_names('planes')} (families tried and not adopted register when their "
                              "research/planes module is imported: research/README.md)")
        if self.n_aug < 0 or self.n_junk < 0 or self.hc18_images < 0:
            raise ConfigError("task_options n_aug, n_junk, hc18_images must be >= 0")
        if self.epochs < 1 or self.cv_epochs < 1 or self.folds < 2:
            raise ConfigError("task_options epochs, cv_epochs must be >= 1 and folds >= 2")
        if not 0 < self.lr < 1 or min(self.max_minutes, self.cv_max_minutes) <= 0 or self.continue_minutes < 0:
            raise ConfigError("task_options lr in (0, 1), max_minutes and cv_max_minutes > 0, continue_minutes >= 0")
        if self.feature_hint < 0:
            raise ConfigError(f"task_options.feature_hint {self.feature_hint} must be >= 0")
        if self.map_hint != 0:
            raise ConfigError(f"task_options.map_hint {self.map_hint}: the spatial hint was tried and dropped "
                              "(docs/decisions.md, 1 Dec 2026); only 0 is accepted")
        if not 0.5 <= self.target_accuracy < 1.0:
            raise ConfigError(f"task_options.target_accuracy {self.target_accuracy} must be in [0.5, 1)")

    def student_config(self) -> DistillConfig:
        return DistillConfig(epochs=self.epochs, max_minutes=self.max_minutes, lr=self.lr, arch=self.student_arch,
                             feat_weight=self.feature_hint, map_weight=self.map_hint)

    def cv_config(self) -> DistillConfig:
        return replace(self.student_config(), epochs=self.cv_epochs, max_minutes=self.cv_max_minutes)

    @property
    def pretrained(self) -> bool:
        """The student starts from SonoNet-16's published filters (its family can be cut from them)."""
        from compress.nets.families import family

        return family(self.student_arch).from_sononet is not None


KEYS = tuple(f.name for f in fields(PlaneRecipe) if f.name != "student_arch")


def recipe_from_options(options: Mapping[str, Any], extra_keys: tuple[str, ...] = (),
                        student_arch: str = PlaneRecipe.student_arch) -> PlaneRecipe:
    """The recipe from a task_options mapping and the student family; unknown keys (other than extra_keys)
    are a ConfigError."""
    unknown = sorted(set(options) - set(KEYS) - set(extra_keys))
    if unknown:
        raise ConfigError(f"task_options {unknown} are not understood by task 'planes'; valid: {sorted(KEYS + extra_keys)}")
    kw = {}
    for f in fields(PlaneRecipe):
        if f.name in options and f.name in KEYS:
            kind = type(getattr(PlaneRecipe, f.name))
            try:
                kw[f.name] = kind(options[f.name]) if kind is not int or float(options[f.name]).is_integer() else None
            except (TypeError, ValueError):
                kw[f.name] = None
            if kw[f.name] is None:
                raise ConfigError(f"task_options.{f.name} = {options[f.name]!r}: expected {kind.__name__}")
    return PlaneRecipe(**kw, student_arch=student_arch)


def load_recipe(config: str | Path) -> PlaneRecipe:
    """The recipe in a pipeline YAML (its task_options; the pipeline's other sections are not read here)."""
    import yaml

    path = Path(config)
    if not path.is_file():
        raise ConfigError(f"recipe {path} not found; give the pipeline YAML (compress/configs/planes.yaml)")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if raw.get("task") != "planes":
        raise ConfigError(f"{path}: task is {raw.get('task')!r}, not 'planes'")
    from compress.tasks.planes import PIPELINE_ONLY_OPTIONS

    family = (raw.get("student") or {}).get("family")
    if not isinstance(family, str):
        raise ConfigError(f"{path}: student.family (the plane student's network) is missing")
    return recipe_from_options(raw.get("task_options") or {}, PIPELINE_ONLY_OPTIONS, family)
