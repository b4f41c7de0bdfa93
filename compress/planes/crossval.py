"""Out-of-fold predictions of teacher, student and SonoNet-16 (as it comes) on the same folds.

`run_folds` trains, for every fold, a teacher head on the training views' cached SonoNet features and a
student distilled from that fold's teacher, and predicts the clean view of every validation record.
Used for patient-grouped k-fold CV over the development set and for leave-one-country-out (LOCO).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from compress.data.planes import PlaneRecord
from compress.nets.sononet import SONONET_CLASSES
from compress.planes.distill import DistillConfig, student_logits, train_student
from compress.planes.evaluate import softmax
from compress.planes.features import JunkViews, ViewCache
from compress.planes.teacher import head_logits, train_head
from edge.planes.taxonomy import JUNK, MODEL_CLASSES, PLANES, sononet_to_model_classes

log = logging.getLogger(__name__)
MODELS = ("sononet", "teacher", "student")


@dataclass
class FoldPredictions:
    """Per predicted record: its index, the fold, and each model's logits (SonoNet: log of mapped probs)."""

    record: np.ndarray
    fold: np.ndarray
    logits: dict[str, np.ndarray]

    def save(self, path) -> None:
        np.savez(path, record=self.record, fold=self.fold, **{f"logits_{k}": v for k, v in self.logits.items()})

    @classmethod
    def load(cls, path) -> "FoldPredictions":
        with np.load(path, allow_pickle=False) as d:
            return cls(d["record"], d["fold"], {k[7:]: d[k] for k in d.files if k.startswith("logits_")})


def view_labels(records: list[PlaneRecord], cache: ViewCache) -> tuple[np.ndarray, np.ndarray]:
    targets = np.array([records[i].target for i in range(len(records))])[cache.record]
    planes = np.array([records[i].plane_idx for i in range(len(records))])[cache.record]
    return targets, planes


JUNK_TARGET, JUNK_PLANE = MODEL_CLASSES.index(JUNK), len(PLANES)


@dataclass
class TrainViews:
    """What a teacher head and a student train on: the views of some records, then the junk views."""

    images: np.ndarray
    feats: np.ndarray
    targets: np.ndarray
    planes: np.ndarray


def train_views(records: list[PlaneRecord], cache: ViewCache, train_recs, junk: JunkViews | None) -> TrainViews:
    """All cached views of `train_recs` (+ every junk view, target JUNK_TARGET, plane index JUNK_PLANE)."""
    targets, planes = view_labels(records, cache)
    tr = np.isin(cache.record, train_recs)
    parts = [(cache.images[tr], cache.feats[tr], targets[tr], planes[tr])]
    if junk is not None and len(junk.images):
        n = len(junk.images)
        parts.append((junk.images, junk.feats, np.full(n, JUNK_TARGET), np.full(n, JUNK_PLANE)))
    return TrainViews(*(np.concatenate(a) if len(parts) > 1 else a[0] for a in zip(*parts)))


def sononet_logits(feats: np.ndarray) -> np.ndarray:
    """SonoNet-16 as it comes: its 14 logits mapped onto our 8 classes (log of summed probabilities)."""
    p8 = sononet_to_model_classes(softmax(feats[:, -14:]), SONONET_CLASSES)
    return np.log(np.clip(p8, 1e-9, 1.0)).astype(np.float32)


def clean_views(cache: ViewCache, recs: np.ndarray) -> np.ndarray:
    """Cache rows of the un-augmented view of each record in `recs` (in that order)."""
    clean = np.flatnonzero(cache.view == 0)
    pos = {int(r): k for k, r in enumerate(cache.record[clean])}
    return clean[[pos[int(r)] for r in recs]]


def train_fold_models(records: list[PlaneRecord], cache: ViewCache, train_recs: np.ndarray,
                      cfg: DistillConfig | None, seed: int = 0, sononet_npz: str | Path | None = None,
                      junk: JunkViews | None = None) -> tuple[object, torch.nn.Module | None]:
    """The teacher head on all views of train_recs (+ junk), and (cfg given) the student distilled from it."""
    v = train_views(records, cache, train_recs, junk)
    head = train_head(v.feats, v.targets, v.planes, seed=seed)
    if cfg is None:
        return head, None
    student = train_student(v.images, head_logits(head, v.feats), v.targets, v.planes, cfg,
                            teacher_feats=v.feats, sononet_npz=sononet_npz)
    return head, student


def fit_fold(records: list[PlaneRecord], cache: ViewCache, train_recs: np.ndarray, val_recs: np.ndarray,
             cfg: DistillConfig | None, seed: int = 0, sononet_npz: str | Path | None = None,
             junk: JunkViews | None = None) -> dict[str, np.ndarray]:
    """Train on all views of train_recs (+ junk); predict the clean views of val_recs (in val_recs order).
    `sononet_npz`: SonoNet-16's weights, for a SonoNet-S student (cut from them on this fold's views)."""
    head, student = train_fold_models(records, cache, train_recs, cfg, seed, sononet_npz, junk)
    va = clean_views(cache, val_recs)
    out = {"sononet": sononet_logits(cache.feats[va]), "teacher": head_logits(head, cache.feats[va])}
    if student is not None:
        out["student"] = student_logits(student, cache.images[va])
    return out


def run_folds(records: list[PlaneRecord], cache: ViewCache, pool: list[int], folds: list[np.ndarray],
              cfg: DistillConfig | None, train_exclude: set[int] = frozenset(),
              sononet_npz: str | Path | None = None, junk: JunkViews | None = None) -> FoldPredictions:
    """For each fold: train on pool minus fold (minus train_exclude), predict the fold's records."""
    rec, fold_id, logits = [], [], {m: [] for m in MODELS}
    for f, val in enumerate(folds):
        val_set = set(int(v) for v in val)
        train = np.array([i for i in pool if i not in val_set and i not in train_exclude])
        log.info("fold %d/%d: train %d records, predict %d", f + 1, len(folds), len(train), len(val))
        out = fit_fold(records, cache, train, np.asarray(val), cfg, seed=f, sononet_npz=sononet_npz, junk=junk)
        rec.extend(int(v) for v in val)
        fold_id.extend([f] * len(val))
        for m, v in out.items():
            logits[m].append(v)
    return FoldPredictions(np.array(rec), np.array(fold_id),
                           {m: np.concatenate(v) for m, v in logits.items() if v})
