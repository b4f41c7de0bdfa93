"""What the compression pipeline needs from a task (planes, biometry, toy): one adapter per task.

An adapter hides the task's data reader, networks and metric behind one small interface, so that the
stages (train, prune, calibrate, export, quantize) never know which task they compress.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from edge.errors import ModelError

PredictFn = Callable[[np.ndarray], np.ndarray]  # (N,1,H,W) float32 -> raw model output (N, ...)


class CalibrationError(ModelError):
    """The model's outputs on the validation data leave no post-processing setting to choose (e.g. no mask
    threshold finds enough heads); the calibrate stage stops the pipeline and nothing is shipped."""


@dataclass(frozen=True)
class TaskInfo:
    """Static facts a bundle's manifest needs."""

    task: str  # "planes" | "biometry" (the manifest's task field)
    model_name: str  # name of the shipped model, e.g. "plane-cls"
    metric: str  # the gated metric, e.g. "macro_f1"
    higher_is_better: bool
    input_shape: tuple[int, int, int, int]  # (1, 1, H, W)
    output_kind: str  # "class_logits" | "segmentation_logits"
    class_names: tuple[str, ...]
    preprocessing: dict[str, Any]  # the manifest's preprocessing block
    training_data: str
    split: str
    teacher_input_shape: tuple[int, ...] | None = None  # when the teacher sees other inputs than the student


@dataclass(frozen=True)
class Calibration:
    frames: np.ndarray  # (N,1,H,W) float32, preprocessed exactly as at run time
    sha256: str  # hash of the source file names + pixels, recorded in the manifest
    source: str


class TaskAdapter(ABC):
    """Built once per pipeline run from the data directory; all methods are cheap after construction.

    Networks come from the model-family registry (compress.nets.families) unless an adapter overrides
    build_teacher / build_student; training goes through compress.training.fit with this adapter's batches,
    loss and validation score; `calibrate` fits the post-processing the runtime applies (threshold,
    temperature, ...) on validation data and every later `evaluate` applies it."""

    info: TaskInfo

    def build_teacher(self, family: str | None, width_mult: float) -> Any:
        """The teacher architecture (untrained). `family` None: the task's own teacher, if it has one."""
        if family is None:
            from edge.errors import ConfigError

            raise ConfigError(f"task {self.info.task!r} has no built-in teacher; name teacher.family in the recipe")
        return self._family(family, "teacher").create(width_mult)

    def build_student(self, family: str, width_mult: float) -> Any:
        """The student architecture (untrained) of a registered model family (a task with its own training
        recipe returns the student that recipe trains when student.init is `recipe`)."""
        return self._family(family, "student").create(width_mult)

    def _family(self, name: str, role: str) -> Any:
        from compress.nets.families import family
        from edge.errors import ConfigError

        fam = family(name)
        if fam.task != self.info.task:
            raise ConfigError(f"{role}.family {name!r} makes {fam.task} models; task {self.info.task!r} needs one of "
                              f"compress.nets.families.family_names({self.info.task!r})")
        return fam

    @abstractmethod
    def train_batches(self, batch_size: int, seed: int) -> Iterator[tuple[Any, Any]]:
        """Endless (x, y) torch batches from the training split, augmented."""

    @abstractmethod
    def steps_per_epoch(self, batch_size: int) -> int:
        """Training steps that make one pass over the training split."""

    @abstractmethod
    def hard_loss(self, logits: Any, y: Any) -> Any:
        """The task's supervised loss (torch scalar)."""

    @abstractmethod
    def evaluate(self, predict: PredictFn) -> dict[str, float]:
        """Metrics on the validation split, with the calibrated post-processing; must contain `info.metric`."""

    @abstractmethod
    def calibration(self, n_frames: int) -> Calibration:
        """Real preprocessed frames from the training split for INT8 calibration."""

    def init_frames(self, n: int, seed: int) -> Any:
        """(n, 1, H, W) float32 training inputs (augmented) on which filters cut from SonoNet-16 are chosen."""
        from edge.errors import ConfigError

        raise ConfigError(f"task {self.info.task!r} cannot start a student from SonoNet-16 (student.init sononet16)")

    def validation_score(self, model: Any) -> float:
        """Higher is better; train.select best_val keeps the epoch that scores best (validation split only)."""
        from edge.errors import ConfigError

        raise ConfigError(f"task {self.info.task!r} has no validation score; use train.select: last")

    def recipe_teacher(self, model: Any) -> Any:
        """`model` (build_teacher) trained by the task's own recipe (teacher.checkpoint: recipe)."""
        from edge.errors import ConfigError

        raise ConfigError(f"task {self.info.task!r} has no teacher recipe; give teacher.checkpoint a trained file")

    def load_teacher(self, model: Any, path: Any) -> Any:
        """Load the teacher checkpoint (adapters override this for their own checkpoint format)."""
        from compress.stages.common import load_state_into

        return load_state_into(model, path, "teacher")

    def teacher_logits(self, teacher: Any, x: Any, y: Any) -> Any:
        """The teacher's logits for a training batch (adapters with cached teacher outputs return those)."""
        return teacher(x)

    def teacher_metrics(self, teacher: Any) -> dict[str, float]:
        """The teacher's metrics on the validation split (same frames the students are gated on)."""
        from compress.stages.common import torch_predict

        return self.evaluate(torch_predict(teacher))

    def calibrate(self, predict: PredictFn) -> dict[str, Any]:
        """Fit the runtime's post-processing for the model `predict` runs, on validation data only; apply it to
        every later evaluate and return the manifest keys it sets (e.g. {"postprocessing": {...}})."""
        return {}

    def use_calibration(self, manifest_keys: dict[str, Any]) -> None:
        """Apply post-processing fitted earlier (a stage run alone after `calibrate`)."""

    def final_metrics(self, predict: PredictFn) -> dict[str, Any]:
        """Metrics of a finished graph for the manifest and card, e.g. on a test split the gate never saw."""
        return {}

    def manifest_extra(self, predict: PredictFn) -> dict[str, Any]:
        """Task-specific manifest keys for the final (INT8) model (provenance of the data, post-processing)."""
        return {}

    def card_results(self, final: dict[str, dict[str, Any]], installed: Any) -> str:
        """Markdown results section of the model card: `final` = {"int8": ..., "fp32": ...} final_metrics,
        `installed` = the model directory of the version in edge/models (None if none), to compare against."""
        return ""

    def worse_by(self, before: float, after: float) -> float:
        """How much worse `after` is than `before`, in metric units (positive = worse; equal, even both
        infinite as when nothing could be measured, is no change)."""
        if before == after:
            return 0.0
        return (before - after) if self.info.higher_is_better else (after - before)
