"""Subject-grouped k-fold cross-validation of the head student over the train + val subjects (never test).

The 80 val images cannot rank two training recipes 0.1-0.2 mm of HC apart (docs/biometry.md); out-of-fold
errors over all 621 development images can. Each fold's student trains on the other folds' images (last
epoch kept: the fold's own images must not choose its checkpoint) and is measured on its fold with the
device's own ellipse fit, exactly as `evaluate` measures a shipped model.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from torch.utils.data import ConcatDataset, Subset

from compress.biometry.dataset import default_spec
from compress.biometry.evaluate import error_stats, torch_predict_fn, torch_refine_predict_fn
from compress.biometry.train import TrainConfig, checkpoint_path, finished_run, split_dataset, train
from compress.data.hc18 import HC18Record
from edge.biometry.measure import measure_head
from edge.errors import ConfigError

log = logging.getLogger(__name__)
FOLD_SALT = "fetal-edge-hc18-cv1"
FRACTION_SALT = "fetal-edge-hc18-fraction1"
DEV_SPLITS = ("train", "val")


def _salted(salt: str, subject: str) -> int:
    return int(hashlib.sha256(f"{salt}:{subject}".encode()).hexdigest(), 16)


def subject_fold(subject: str, folds: int) -> int:
    """Deterministic fold of a subject (salted sha256), independent of file order and of the split salt."""
    return _salted(FOLD_SALT, subject) % folds


def in_fraction(subject: str, fraction: float) -> bool:
    """Whether a subject is among the first `fraction` of subjects (salted sha256 position in [0, 1)): nested,
    so the subjects of a smaller fraction are all in every larger one, as a learning curve needs."""
    return _salted(FRACTION_SALT, subject) / 2.0 ** 256 < fraction


@dataclass(frozen=True)
class FoldRow:
    name: str
    fold: int
    hc_ref_mm: float
    hc_mm: float | None      # None: no measurement
    reason: str | None
    quality: float = 0.0
    details: dict[str, float] = field(default_factory=dict)  # the ellipse fit's gate values (measure.fit_head)


def _dev_datasets(cfg: TrainConfig, limit: int | None) -> tuple[list[HC18Record], ConcatDataset]:
    """Train + val records (first `limit` of each split, for smoke runs) and one augmented dataset over them."""
    spec = default_spec(cfg.input_size)
    parts = [split_dataset(cfg, spec, split, augment=True) for split in DEV_SPLITS]
    records: list[HC18Record] = []
    subsets = []
    for ds in parts:
        n = len(ds) if limit is None else min(limit, len(ds))
        records += ds.records[:n]
        subsets.append(Subset(ds, range(n)))
    return records, ConcatDataset(subsets)


def fold_init(init: Path | None, fold: int) -> Path | None:
    """The checkpoint fold `fold` starts from. A path holding "{fold}" names one per fold, e.g. the students of
    another CV run (`student_sono_cv{fold}.pt`): one shared checkpoint trained on all development images would
    have seen every fold's held-out images."""
    if init is None or "{fold}" not in str(init):
        return init
    path = Path(str(init).replace("{fold}", str(fold)))
    if not path.is_file():
        raise ConfigError(f"fold {fold} starts from {path}, which does not exist; run that CV fold first")
    return path


def first_pass_of(first_pass: Path, fold: int) -> Path:
    """Fold `fold`'s whole-frame student (a "{fold}" template), which must come from a run that ended: a
    checkpoint still being trained is saved every epoch."""
    path = fold_init(first_pass, fold)
    if path is None or not path.with_name(f"{path.stem}_summary.json").is_file():
        raise ConfigError(f"first pass {path} of fold {fold} has not finished training; run this CV again once "
                          "it has (the refine students already trained are reused)")
    return path


def fold_predict_fn(checkpoint: Path, first_pass: Path | None, fold: int):
    if first_pass is None:
        return torch_predict_fn(checkpoint)
    return torch_refine_predict_fn(first_pass_of(first_pass, fold), checkpoint)


def run_cv(cfg: TrainConfig, folds: int = 3, limit: int | None = None, only_fold: int | None = None,
           first_pass: Path | None = None) -> dict:
    """Train one student per fold, measure its fold; returns {"rows": [...], "summary": {...}} and writes it to
    `<out>/cv_k<folds><tag>.json`. `cfg` is the recipe (epochs, lr, width, boundary weight, init ...).

    A fold whose student a finished run of the same recipe left behind is measured, not trained again: an
    interrupted CV resumes, and `only_fold=k` (one fold, nothing written but its checkpoint) lets the folds run
    on separate cores before one plain run gathers them. `cfg.init` may name one checkpoint per fold (fold_init).
    A refine recipe (cfg.crop_margin > 0) is measured as the second pass behind `first_pass`, one whole-frame
    student per fold ("{fold}" template, e.g. the 1.3.0 recipe's CV students)."""
    if (cfg.crop_margin > 0) != (first_pass is not None):
        raise ConfigError("a refine recipe (crop margin > 0) is measured behind a first pass and only it is: give "
                          "both --crop-margin and --first-pass, or neither")
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    if not 0 < cfg.train_fraction <= 1:
        raise ConfigError(f"train fraction {cfg.train_fraction} must be in (0, 1]")
    if only_fold is not None and not 0 <= only_fold < folds:
        raise ValueError(f"fold {only_fold} does not exist with {folds} folds (0 to {folds - 1})")
    records, data = _dev_datasets(cfg, limit)
    fold_of = np.array([subject_fold(r.subject, folds) for r in records])
    rows: list[FoldRow] = []
    for k in range(folds) if only_fold is None else [only_fold]:
        held = np.flatnonzero(fold_of == k)
        if held.size == 0 or held.size == len(records):
            raise ValueError(f"fold {k} of {folds} holds {held.size} of {len(records)} images; use fewer folds")
        fold_cfg = replace(cfg, role="student", tag=f"{cfg.tag}_cv{k}", init=fold_init(cfg.init, k))
        if finished_run(fold_cfg):
            log.info("fold %d/%d: reusing the finished student%s.pt", k + 1, folds, fold_cfg.tag)
        else:
            log.info("fold %d/%d: train %d images, measure %d", k + 1, folds, len(records) - held.size, held.size)
            used = [i for i in np.flatnonzero(fold_of != k) if in_fraction(records[i].subject, cfg.train_fraction)]
            if len(used) < cfg.batch:
                raise ConfigError(f"fold {k}: train fraction {cfg.train_fraction} leaves {len(used)} training images, "
                                  f"fewer than a batch ({cfg.batch}); use a larger fraction")
            train(fold_cfg, Subset(data, used))
        predict = fold_predict_fn(checkpoint_path(fold_cfg), first_pass, k)
        for i in held:
            r = records[i]
            res = measure_head(predict(r.image()), r.pixel_mm, None)
            rows.append(FoldRow(r.name, k, r.hc_mm, res.hc.value, res.reason, res.quality, res.details))
    result = {"rows": [row.__dict__ for row in rows], "summary": summarise(rows, folds)}
    if only_fold is None:
        (cfg.out / f"cv_k{folds}{cfg.tag}.json").write_text(json.dumps(result, indent=1))
    return result


def summarise(rows: list[FoldRow], folds: int) -> dict[str, float]:
    err = [r.hc_mm - r.hc_ref_mm for r in rows if r.hc_mm is not None]
    a = np.abs(np.asarray(err, float))
    return {"folds": folds, "n_images": len(rows), "no_answer": sum(r.hc_mm is None for r in rows),
            **{k: float("nan") for k in ("hc_mae_mm", "hc_median_ae_mm", "hc_bias_mm")},  # no image measured
            **error_stats("hc", err),
            # standard error of the MAE: how far apart two recipes must be before the difference means something
            "hc_mae_se_mm": float(a.std(ddof=1) / np.sqrt(a.size)) if a.size > 1 else float("nan")}
