"""A tiny task for smoke runs and tests: 6-class plane classification on a handful of real frames at 32x32.

Not a product model: it exists so that the whole pipeline (distill, prune, quantize, export, bundle) runs on
real ultrasound frames in seconds. Frames come from `planes/labels.csv` in the development data, split by
patient; the networks are small conv nets defined here.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from compress.nets.families import Family, register_family
from compress.tasks import TASKS
from compress.tasks.base import Calibration, PredictFn, TaskAdapter, TaskInfo
from edge.errors import ConfigError
from edge.imageio import read_gray
from edge.manifest import parse_preprocessing
from edge.preprocess import preprocess

CLASSES = ("Fetal abdomen", "Fetal brain", "Fetal femur", "Fetal thorax", "Maternal cervix", "Other")
PREPROCESSING = {"size": [32, 32], "resize": "stretch", "interpolation": "area",
                 "normalise": {"mode": "per_image", "scale": 1.0}}


class TinyNet(nn.Module):
    def __init__(self, width: int, n_classes: int = len(CLASSES)) -> None:
        super().__init__()
        w = max(2, int(width))
        self.features = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(2 * w, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.features(x)), 1))


register_family(Family("tiny", "planes", lambda w: TinyNet(round(16 * w)), "three-conv toy classifier (smoke runs)"))


def _read_rows(planes_dir: Path, n_images: int) -> list[dict[str, str]]:
    labels = planes_dir / "labels.csv"
    if not labels.is_file():
        raise ConfigError(f"{labels} not found; point data_dir at the shared data folder (it holds planes/)")
    with open(labels, newline="", encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: r["file"])
    per_class = max(2, n_images // len(CLASSES))
    picked: list[dict[str, str]] = []
    for c in CLASSES:
        picked += [r for r in rows if r["plane"] == c][:per_class]
    return picked


class ToyTask(TaskAdapter):
    def __init__(self, data_dir: Path, options: dict[str, Any]) -> None:
        unknown = sorted(set(options) - {"n_images"})
        if unknown:
            raise ConfigError(f"task options {unknown} are not understood by task 'toy'; valid: ['n_images']")
        rows = _read_rows(data_dir / "planes", int(options.get("n_images", 48)))
        self.info = TaskInfo("planes", "toy-plane-cls", "macro_f1", True, (1, 1, 32, 32), "class_logits",
                             CLASSES, PREPROCESSING, f"{len(rows)} frames of planes/labels.csv", "patient hash % 4")
        spec = parse_preprocessing(PREPROCESSING)
        x = np.concatenate([preprocess(read_gray(data_dir / "planes" / "images" / r["file"]), spec).tensor
                            for r in rows])
        y = np.array([CLASSES.index(r["plane"]) for r in rows], dtype=np.int64)
        val = np.array([int(hashlib.sha1(r["patient"].encode()).hexdigest(), 16) % 4 == 0 for r in rows])
        self.files = [r["file"] for r in rows]
        self.x_train, self.y_train = x[~val], y[~val]
        self.x_val, self.y_val = x[val], y[val]
        self._train_files = [f for f, v in zip(self.files, val) if not v]

    def steps_per_epoch(self, batch_size: int) -> int:
        return max(1, len(self.y_train) // batch_size)

    def train_batches(self, batch_size: int, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rng = np.random.default_rng(seed)
        while True:
            idx = rng.integers(0, len(self.y_train), batch_size)
            xb = self.x_train[idx].copy()
            flip = rng.random(batch_size) < 0.5
            xb[flip] = xb[flip][..., ::-1]
            yield torch.from_numpy(xb), torch.from_numpy(self.y_train[idx])

    def hard_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(logits, y)

    def evaluate(self, predict: PredictFn) -> dict[str, float]:
        pred = np.concatenate([predict(self.x_val[i:i + 1]) for i in range(len(self.x_val))]).argmax(1)
        f1 = []
        for c in range(len(CLASSES)):  # macro-F1 over all classes, 0 where a class is never predicted nor true
            tp = int(((pred == c) & (self.y_val == c)).sum())
            wrong = int(((pred == c) != (self.y_val == c)).sum())
            f1.append(2 * tp / (2 * tp + wrong) if tp + wrong else 0.0)
        return {"macro_f1": 100.0 * float(np.mean(f1)), "accuracy": 100.0 * float((pred == self.y_val).mean())}

    def calibration(self, n_frames: int) -> Calibration:
        n = min(n_frames, len(self.x_train))
        frames = self.x_train[:n]
        h = hashlib.sha256("\n".join(self._train_files[:n]).encode())
        h.update(frames.tobytes())
        return Calibration(frames, h.hexdigest(), f"planes/labels.csv training split, first {n} frames")


@TASKS.register("toy")
def make_toy(data_dir: Path, options: dict[str, Any]) -> ToyTask:
    return ToyTask(data_dir, options)
