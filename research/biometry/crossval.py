"""Subject-grouped k-fold cross-validation of a head recipe over the train + val subjects (never test).

The 80 val images cannot rank two recipes 0.1-0.2 mm of HC apart; out-of-fold errors over all 621 development
images can. A recipe is a pipeline YAML (compress/configs/biometry.yaml or a variant of it): each fold's student
is built and trained exactly as the pipeline's train stage does (family, init, augmentation, schedule), on the
other folds' images, keeps its last epoch (the fold's own images must not choose its checkpoint) and is
measured on its fold with the device's own ellipse fit.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from compress.biometry.dataset import Augment, HC18SegDataset
from compress.biometry.evaluate import error_stats, module_predict_fn
from compress.data.hc18 import HC18Record
from compress.nets.families import family
from compress.pipeline.config import PipelineConfig, sononet_weights
from compress.tasks import create_task
from compress.training import Schedule, fit
from edge.biometry.measure import GateSettings, measure_head
from edge.errors import ConfigError

log = logging.getLogger(__name__)
FOLD_SALT = "fetal-edge-hc18-cv1"
FRACTION_SALT = "fetal-edge-hc18-fraction1"
DEV_SPLITS = ("train", "val")
SPREAD = GateSettings(spread_levels=(0.25, 0.75))   # rows carry hc_spread_rel, for the gate study (gate.py)


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
    details: dict[str, float] = field(default_factory=dict)


def recipe_key(cfg: PipelineConfig, fraction: float, limit: int | None) -> str:
    """What a fold student depends on: the training sections of the recipe, the fraction and the limit."""
    parts = {"student": asdict(cfg.student), "train": asdict(cfg.train), "seed": cfg.seed,
             "task_options": cfg.task_options, "fraction": fraction, "limit": limit}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _train_fold(cfg: PipelineConfig, task, records: list[HC18Record], data_dir: Path) -> torch.nn.Module:  # type: ignore[no-untyped-def]
    """The pipeline's train stage on `records` (labels only: research CV does not run teachers)."""
    task.train_ds = HC18SegDataset(records, task.spec, Augment.from_options(cfg.task_options.get("augment", {})))
    torch.manual_seed(cfg.seed)
    fam = family(cfg.student.family)
    student = fam.create(cfg.student.width_mult)
    if cfg.student.init == "sononet16":
        fam.from_sononet(student, sononet_weights(data_dir), torch.from_numpy(task.init_frames(64, cfg.seed)))
    t = cfg.train
    fit(student, task.train_batches(t.batch_size, cfg.seed), lambda x, y, out: task.hard_loss(out, y),
        Schedule(t.epochs, task.steps_per_epoch(t.batch_size), t.lr, t.schedule, t.weight_decay, t.warmup))
    return student


def run_cv(cfg: PipelineConfig, data_dir: Path, out: Path, tag: str = "", folds: int = 3, limit: int | None = None,
           only_fold: int | None = None, fraction: float = 1.0) -> dict:
    """Train one student per fold (or reuse a finished one of the same recipe), measure its fold; returns
    {"rows", "summary"} and, when every fold ran, writes `<out>/cv_k<folds><tag>.json`."""
    if folds < 2:
        raise ConfigError(f"folds must be >= 2, got {folds}")
    if not 0 < fraction <= 1:
        raise ConfigError(f"train fraction {fraction} must be in (0, 1]")
    if only_fold is not None and not 0 <= only_fold < folds:
        raise ConfigError(f"fold {only_fold} does not exist with {folds} folds (0 to {folds - 1})")
    task = create_task("biometry", data_dir, {**cfg.task_options, "limit_images": limit})
    records = [r for s in DEV_SPLITS for r in task.records[s]]
    fold_of = np.array([subject_fold(r.subject, folds) for r in records])
    key, rows = recipe_key(cfg, fraction, limit), []
    out.mkdir(parents=True, exist_ok=True)
    for k in range(folds) if only_fold is None else [only_fold]:
        held = np.flatnonzero(fold_of == k)
        if held.size in (0, len(records)):
            raise ConfigError(f"fold {k} of {folds} holds {held.size} of {len(records)} images; use fewer folds")
        path, summary = out / f"student{tag}_cv{k}.pt", out / f"student{tag}_cv{k}_summary.json"
        if summary.is_file() and json.loads(summary.read_text()).get("key") == key and path.is_file():
            student = torch.load(path, weights_only=False)
        else:
            used = [records[i] for i in np.flatnonzero(fold_of != k) if in_fraction(records[i].subject, fraction)]
            if len(used) < cfg.train.batch_size:
                raise ConfigError(f"fold {k}: train fraction {fraction} leaves {len(used)} training images, fewer "
                                  f"than a batch ({cfg.train.batch_size}); use a larger fraction")
            log.info("fold %d/%d: train %d images, measure %d", k + 1, folds, len(used), held.size)
            student = _train_fold(cfg, task, used, data_dir)
            torch.save(student, path)
            summary.write_text(json.dumps({"key": key, "data": str(data_dir), "fraction": fraction, "folds": folds,
                                           "recipe": str(cfg.source), "train_images": len(used)}))
        predict = module_predict_fn(student, task.spec)
        for i in held:
            r = records[i]
            res = measure_head(predict(r.image()), r.pixel_mm, None, SPREAD)
            rows.append(FoldRow(r.name, k, r.hc_mm, res.hc.value, res.reason, res.quality, res.details))
    result = {"rows": [row.__dict__ for row in rows], "summary": summarise(rows, folds)}
    if only_fold is None:
        (out / f"cv_k{folds}{tag}.json").write_text(json.dumps(result, indent=1))
    return result


def summarise(rows: list[FoldRow], folds: int) -> dict[str, float]:
    err = [r.hc_mm - r.hc_ref_mm for r in rows if r.hc_mm is not None]
    a = np.abs(np.asarray(err, float))
    return {"folds": folds, "n_images": len(rows), "no_answer": sum(r.hc_mm is None for r in rows),
            **{k: float("nan") for k in ("hc_mae_mm", "hc_median_ae_mm", "hc_bias_mm")},  # no image measured
            **error_stats("hc", err),
            # standard error of the MAE: how far apart two recipes must be before the difference means something
            "hc_mae_se_mm": float(a.std(ddof=1) / np.sqrt(a.size)) if a.size > 1 else float("nan")}
