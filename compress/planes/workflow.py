"""Shared steps of `train-planes` and `evaluate-planes`: records, view cache, CV predictions, calibration."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from compress.data.planes import PlaneRecord, grouped_folds, load_records, split_dev_heldout
from compress.nets.sononet import load_sononet16
from compress.nets.plane_student import build_student
from compress.planes.crossval import FoldPredictions, run_folds, view_labels
from compress.planes.distill import DistillConfig, recipe_tag, train_student
from compress.planes.evaluate import choose_threshold, fit_temperature, softmax
from compress.planes.features import MAP_HW, STUDENT_HW, ViewCache, build_cache
from compress.planes.teacher import TEACHER_CHECKPOINT, TeacherHead, head_logits, save_teacher, train_head
from edge.planes.taxonomy import to_planes

log = logging.getLogger(__name__)


@dataclass
class PlaneData:
    records: list[PlaneRecord]
    dev: list[int]
    held: list[int]
    cache: ViewCache
    sononet_npz: Path


def cache_paths(out: Path, n_aug: int) -> tuple[Path, Path]:
    """The view cache and its key file for `n_aug` views per image at the student's input size."""
    stem = f"cache_n{n_aug}_{STUDENT_HW[0]}x{STUDENT_HW[1]}"
    return out / f"{stem}.npz", out / f"{stem}.key"


def _key(records: list[PlaneRecord], n_aug: int) -> str:
    h = hashlib.sha256(f"n_aug={n_aug};hw={STUDENT_HW};maps={MAP_HW}".encode())
    for r in records:
        h.update(f"{r.path.name}|{r.plane}|{r.brain_plane}|{r.patient}|{r.heldout}".encode())
    return h.hexdigest()


def prepare(data_dir: Path, out: Path, n_aug: int, hc18_images: int) -> PlaneData:
    """Records + the view/feature cache, one per n_aug and student input size (`cache_paths`; built once,
    rebuilt only when the records change), so runs with other settings (a test, an older config) never
    overwrite it."""
    records = load_records(data_dir, hc18_images)
    dev, held = split_dev_heldout(records)
    npz = data_dir / "peers" / "sononet" / "SonoNet16.npz"
    cache_path, key_path = cache_paths(out, n_aug)
    key = _key(records, n_aug)
    if cache_path.is_file() and key_path.is_file() and key_path.read_text().strip() == key:
        cache = ViewCache.load(cache_path)
    else:
        log.info("building the view cache: %d records, %d augmented views each (SonoNet-16 forward)",
                 len(records), n_aug)
        cache = build_cache(records, set(dev), load_sononet16(npz), n_aug=n_aug)
        cache.save(cache_path)
        key_path.write_text(key + "\n")
    return PlaneData(records, dev, held, cache, npz)


def cv_predictions(data: PlaneData, out: Path, folds: int, cfg: DistillConfig, reuse: bool = True) -> FoldPredictions:
    """Patient-grouped k-fold out-of-fold logits of SonoNet, teacher and student over the dev set."""
    path = out / f"cv_k{folds}_e{cfg.epochs}_m{cfg.max_minutes:g}{recipe_tag(cfg)}.npz"  # schedules never stand in for each other
    if reuse and path.is_file():
        return FoldPredictions.load(path)
    torch.set_num_threads(1)
    preds = run_folds(data.records, data.cache, data.dev, grouped_folds(data.records, data.dev, folds), cfg,
                      sononet_npz=data.sononet_npz)
    preds.save(path)
    return preds


def loco_predictions(data: PlaneData, out: Path, cfg: DistillConfig | None,
                     reuse: bool = True) -> FoldPredictions:
    """Leave-one-country-out over the African cohort: train without the country (and without any held-out
    record), predict every image of that country (development and held-out patients). cfg None: no student."""
    path = out / (f"loco_e{cfg.epochs}_m{cfg.max_minutes:g}{recipe_tag(cfg)}.npz" if cfg else "loco_e0.npz")
    if reuse and path.is_file():
        return FoldPredictions.load(path)
    torch.set_num_threads(1)
    countries = sorted({r.country for r in data.records if r.dataset == "african"})
    folds = [np.array([i for i, r in enumerate(data.records) if r.dataset == "african" and r.country == c])
             for c in countries]
    preds = run_folds(data.records, data.cache, data.dev, folds, cfg, train_exclude=set(data.held),
                      sononet_npz=data.sononet_npz)
    preds.save(path)
    return preds


def calibrate(logits8: np.ndarray, records: list[PlaneRecord], target_accuracy: float) -> tuple[float, float]:
    """(temperature, unknown threshold) chosen on out-of-fold validation logits."""
    y = np.array([r.plane_idx for r in records])
    t = fit_temperature(logits8, y)
    return t, choose_threshold(to_planes(softmax(logits8, t)), y, target_accuracy)


def student_name(cfg: DistillConfig, continue_minutes: float = 0.0) -> str:
    """Checkpoint file of the shipped-recipe student: student_e<epochs>[_map<w>][_c<minutes>].pt."""
    return f"student_e{cfg.epochs}{recipe_tag(cfg)}" + (f"_c{continue_minutes:g}" if continue_minutes > 0 else "") + ".pt"


def final_models(data: PlaneData, out: Path, cfg: DistillConfig, reuse: bool = True,
                 continue_minutes: float = 0.0) -> tuple[TeacherHead, torch.nn.Module]:
    """Teacher head and student trained on every development view (held-out patients never seen).
    The student checkpoint is reused when one of the same schedule exists (`student_name`).
    continue_minutes > 0: a second cycle (peak LR / 3) from that checkpoint."""
    torch.set_num_threads(1)
    targets, planes = view_labels(data.records, data.cache)
    dev_views = np.isin(data.cache.record, data.dev)
    head = train_head(data.cache.feats[dev_views], targets[dev_views], planes[dev_views])
    save_teacher(head, out / TEACHER_CHECKPOINT.name, sononet_npz=str(data.sononet_npz))
    path = out / student_name(cfg)
    if reuse and path.is_file():
        student = load_student(path)
    else:
        student = _fresh_student(data, cfg, head, path)
    if continue_minutes <= 0:
        return head, student.eval()
    return head, _continue(data, out, cfg, head, student, continue_minutes, reuse)


def load_student(path: Path) -> torch.nn.Module:
    """A student checkpoint written by train-planes ({"state_dict", "width_mult", "arch"}) as a model."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    student = build_student(float(ckpt["width_mult"]), arch=str(ckpt.get("arch", "planenet-s")))
    student.load_state_dict(ckpt["state_dict"])
    return student.eval()


def _save_student(student: torch.nn.Module, cfg: DistillConfig, path: Path, **meta: float) -> None:
    torch.save({"state_dict": student.state_dict(), "width_mult": cfg.width_mult, "arch": cfg.arch, **meta}, path)


def _fresh_student(data: PlaneData, cfg: DistillConfig, head: TeacherHead, path: Path) -> torch.nn.Module:
    targets, planes = view_labels(data.records, data.cache)
    dev_views = np.isin(data.cache.record, data.dev)
    teacher_logits = head_logits(head, data.cache.feats[dev_views])
    student = train_student(data.cache.images[dev_views], teacher_logits, targets[dev_views], planes[dev_views], cfg,
                            teacher_feats=data.cache.feats[dev_views], teacher_maps=data.cache.maps[dev_views],
                            sononet_npz=data.sononet_npz)
    _save_student(student, cfg, path, epochs=cfg.epochs)
    return student


def _continue(data: PlaneData, out: Path, cfg: DistillConfig, head: TeacherHead, student: torch.nn.Module,
              minutes: float, reuse: bool) -> torch.nn.Module:
    path = out / student_name(cfg, minutes)
    if reuse and path.is_file():
        student.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["state_dict"])
        return student.eval()
    targets, planes = view_labels(data.records, data.cache)
    dev_views = np.isin(data.cache.record, data.dev)
    more = replace(cfg, lr=cfg.lr / 3, max_minutes=minutes)
    student = train_student(data.cache.images[dev_views], head_logits(head, data.cache.feats[dev_views]),
                            targets[dev_views], planes[dev_views], more, init=student.train(),
                            teacher_feats=data.cache.feats[dev_views], teacher_maps=data.cache.maps[dev_views])
    _save_student(student, cfg, path, continued_minutes=minutes)
    return student
