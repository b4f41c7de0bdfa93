"""What the compression pipeline needs from a task (planes, biometry, toy): one adapter per task.

An adapter hides the task's data reader, networks and metric behind one small interface, so that the
stages (distill, prune, quantize, export) never know which task they compress.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

PredictFn = Callable[[np.ndarray], np.ndarray]  # (N,1,H,W) float32 -> raw model output (N, ...)


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
    architecture: str | None = None  # the student network's name, recorded in the manifest's provenance


@dataclass(frozen=True)
class Calibration:
    frames: np.ndarray  # (N,1,H,W) float32, preprocessed exactly as at run time
    sha256: str  # hash of the source file names + pixels, recorded in the manifest
    source: str


class TaskAdapter(ABC):
    """Built once per pipeline run from the data directory; all methods are cheap after construction."""

    info: TaskInfo

    @abstractmethod
    def build_teacher(self) -> Any:
        """The teacher architecture (torch.nn.Module, untrained)."""

    @abstractmethod
    def build_student(self, width_mult: float) -> Any:
        """The student architecture (torch.nn.Module, untrained) at a width multiplier."""

    @abstractmethod
    def train_batches(self, batch_size: int, seed: int) -> Iterator[tuple[Any, Any]]:
        """Endless (x, y) torch batches from the training split, augmented."""

    @abstractmethod
    def hard_loss(self, logits: Any, y: Any) -> Any:
        """The task's supervised loss (torch scalar)."""

    @abstractmethod
    def evaluate(self, predict: PredictFn) -> dict[str, float]:
        """Metrics on the validation split; must contain `info.metric`."""

    @abstractmethod
    def calibration(self, n_frames: int) -> Calibration:
        """Real preprocessed frames from the training split for INT8 calibration."""

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

    def final_metrics(self, predict: PredictFn) -> dict[str, Any]:
        """Metrics of the shipped (INT8) model for the manifest, e.g. on a test split the gate never saw."""
        return {}

    def manifest_extra(self, predict: PredictFn) -> dict[str, Any]:
        """Task-specific manifest keys for the final (INT8) model, e.g. the planes runtime's calibration."""
        return {}

    def worse_by(self, before: float, after: float) -> float:
        """How much worse `after` is than `before`, in metric units (positive = worse)."""
        return (before - after) if self.info.higher_is_better else (after - before)
