"""Shared steps of `train-planes` and `evaluate-planes`: records, view cache, CV predictions, calibration."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from compress.data.planes import PlaneRecord, grouped_folds, load_records, split_dev_heldout
from compress.nets.sononet import load_sononet16
from compress.nets.plane_student import build_student
from compress.planes.contract import STUDENT_PREPROCESSING
from compress.planes.crossval import FoldPredictions, TrainViews, run_folds, train_views
from compress.planes.distill import DistillConfig, train_student
from compress.planes.evaluate import choose_threshold, fit_temperature, softmax
from compress.planes.features import MAP_HW, STUDENT_HW, JunkViews, ViewCache, build_cache_parallel, build_junk
from compress.planes.junk import GENERATOR_VERSION as JUNK_VERSION, KINDS as JUNK_KINDS, junk_frames
from compress.planes.teacher import TEACHER_CHECKPOINT, TeacherHead, head_logits, save_teacher, train_head
from edge.imageio import read_gray
from edge.planes.taxonomy import to_answers

log = logging.getLogger(__name__)


@dataclass
class PlaneData:
    records: list[PlaneRecord]
    dev: list[int]
    held: list[int]
    cache: ViewCache
    sononet_npz: Path
    junk: JunkViews | None = None
    key: str = ""          # hash of everything the cached views depend on (records, contract, augmentation, junk)

    def train_views(self, recs) -> TrainViews:
        return train_views(self.records, self.cache, recs, self.junk)


def cache_paths(out: Path, n_aug: int) -> tuple[Path, Path]:
    """The view cache and its key file for `n_aug` views per image at the student's input size."""
    stem = f"cache_n{n_aug}_{STUDENT_HW[0]}x{STUDENT_HW[1]}"
    return out / f"{stem}.npz", out / f"{stem}.key"


CACHE_WORKERS = 2  # one-thread processes building the view cache (the machine has 2 cores)
# bump when the augmentation or the way views are made changes (part of every cache and recipe key)
VIEWS_VERSION = "full-frame augment + edge.preprocess (1.4.0)"


def _key(records: list[PlaneRecord], n_aug: int) -> str:
    h = hashlib.sha256(f"n_aug={n_aug};hw={STUDENT_HW};maps={MAP_HW};views={VIEWS_VERSION};"
                       f"pre={json.dumps(STUDENT_PREPROCESSING, sort_keys=True)}".encode())
    for r in records:
        h.update(f"{r.path.name}|{r.plane}|{r.brain_plane}|{r.patient}|{r.heldout}".encode())
    return h.hexdigest()


def _cached(path: Path, key: str, load, build):  # type: ignore[no-untyped-def]
    """load(path) if path's key file says `key`, else build(), save it and its key."""
    key_path = path.with_suffix(".key")
    if path.is_file() and key_path.is_file() and key_path.read_text().strip() == key:
        return load(path)
    obj = build()
    obj.save(path)
    key_path.write_text(key + "\n")
    return obj


def prepare(data_dir: Path, out: Path, n_aug: int, hc18_images: int, n_junk: int = 0,
            junk_seed: int = 0, limit_records: int | None = None) -> PlaneData:
    """Records + the view/feature cache, one per n_aug and student input size (`cache_paths`; built once,
    rebuilt only when the records change), so runs with other settings (a test, an older config) never
    overwrite it; and `n_junk` junk views (compress.planes.junk, seeded) for the junk class.
    `limit_records` (smoke runs): about that many records, evenly spaced (both splits, every source)."""
    records = load_records(data_dir, hc18_images)
    if limit_records:
        records = records[::max(1, len(records) // limit_records)][:limit_records]
    dev, held = split_dev_heldout(records)
    npz = data_dir / "peers" / "sononet" / "SonoNet16.npz"
    cache_path, _ = cache_paths(out, n_aug)
    key = _key(records, n_aug)

    def build() -> ViewCache:
        log.info("building the view cache: %d records, %d augmented views each (SonoNet-16 forward)",
                 len(records), n_aug)
        return build_cache_parallel(records, set(dev), npz, n_aug, workers=CACHE_WORKERS)

    cache = _cached(cache_path, key, ViewCache.load, build)
    junk = None
    if n_junk > 0:
        junk_key = hashlib.sha256(f"{key};junk={n_junk};seed={junk_seed};kinds={JUNK_KINDS};v={JUNK_VERSION}".encode()).hexdigest()
        junk = _cached(out / f"junk_n{n_junk}_s{junk_seed}.npz", junk_key, JunkViews.load,
                       lambda: _build_junk(records, dev, n_junk, junk_seed, npz))
        key = junk_key
    return PlaneData(records, dev, held, cache, npz, junk, key)


def _build_junk(records: list[PlaneRecord], dev: list[int], n: int, seed: int, npz: Path) -> JunkViews:
    """Junk views; the tile-shuffled kind uses development frames only (held-out patients never seen)."""
    pick = np.random.default_rng(seed).choice(dev, size=min(len(dev), 120), replace=False)
    frames, kinds = junk_frames(n, seed, [read_gray(records[int(i)].path) for i in pick])
    log.info("junk views: %d frames of %d kinds (SonoNet-16 forward)", n, len(set(kinds)))
    return build_junk(frames, kinds, load_sononet16(npz))


def recipe_key(data: PlaneData, cfg: DistillConfig, **extra: object) -> str:
    """12 hex digits naming a trained result: the data/views key, the student recipe and any extra settings.
    Checkpoints and CV predictions are stored and found under it, so a run of another recipe never stands
    in for this one."""
    blob = json.dumps({"data": data.key, "cfg": asdict(cfg), **extra}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def cv_predictions(data: PlaneData, out: Path, folds: int, cfg: DistillConfig, reuse: bool = True) -> FoldPredictions:
    """Patient-grouped k-fold out-of-fold logits of SonoNet, teacher and student over the dev set."""
    path = out / f"cv_k{folds}_{recipe_key(data, cfg, folds=folds)}.npz"  # recipes never stand in for each other
    if reuse and path.is_file():
        return FoldPredictions.load(path)
    torch.set_num_threads(1)
    preds = run_folds(data.records, data.cache, data.dev, grouped_folds(data.records, data.dev, folds), cfg,
                      sononet_npz=data.sononet_npz, junk=data.junk)
    preds.save(path)
    return preds


def loco_predictions(data: PlaneData, out: Path, cfg: DistillConfig | None,
                     reuse: bool = True) -> FoldPredictions:
    """Leave-one-country-out over the African cohort: train without the country (and without any held-out
    record), predict every image of that country (development and held-out patients). cfg None: no student."""
    path = out / (f"loco_{recipe_key(data, cfg, loco=True)}.npz" if cfg else f"loco_e0_{data.key[:12]}.npz")
    if reuse and path.is_file():
        return FoldPredictions.load(path)
    torch.set_num_threads(1)
    countries = sorted({r.country for r in data.records if r.dataset == "african"})
    folds = [np.array([i for i, r in enumerate(data.records) if r.dataset == "african" and r.country == c])
             for c in countries]
    preds = run_folds(data.records, data.cache, data.dev, folds, cfg, train_exclude=set(data.held),
                      sononet_npz=data.sononet_npz, junk=data.junk)
    preds.save(path)
    return preds


def calibrate(logits8: np.ndarray, records: list[PlaneRecord], target_accuracy: float) -> tuple[float, float]:
    """(temperature, unknown threshold) chosen on out-of-fold validation logits."""
    y = np.array([r.plane_idx for r in records])
    t = fit_temperature(logits8, y)
    return t, choose_threshold(to_answers(softmax(logits8, t)), y, target_accuracy)


def student_name(data: PlaneData, cfg: DistillConfig, continue_minutes: float = 0.0) -> str:
    """Checkpoint file of a student: student_<arch>_<recipe key>.pt (the key covers data, views and recipe)."""
    extra = {"continue_minutes": continue_minutes} if continue_minutes > 0 else {}
    return f"student_{cfg.arch}_{recipe_key(data, cfg, **extra)}.pt"


def final_teacher(data: PlaneData, out: Path) -> TeacherHead:
    """The teacher head on every development view + the junk views (seconds; deterministic), saved to
    <out>/teacher.pt with the data key it was trained on."""
    torch.set_num_threads(1)
    v = data.train_views(data.dev)
    head = train_head(v.feats, v.targets, v.planes)
    save_teacher(head, out / TEACHER_CHECKPOINT.name, sononet_npz=str(data.sononet_npz), data_key=data.key)
    return head


def final_models(data: PlaneData, out: Path, cfg: DistillConfig, reuse: bool = True,
                 continue_minutes: float = 0.0) -> tuple[TeacherHead, torch.nn.Module]:
    """Teacher head and student trained on every development view + the junk views (held-out patients never
    seen). The student checkpoint is reused when one of the same recipe exists (`student_name`).
    continue_minutes > 0: a second cycle (peak LR / 3) from that checkpoint."""
    head = final_teacher(data, out)
    v = data.train_views(data.dev)
    path = out / student_name(data, cfg)
    final_path = out / student_name(data, cfg, continue_minutes)
    if reuse and continue_minutes > 0 and final_path.is_file():
        return head, load_student(final_path)
    if reuse and path.is_file():
        student = load_student(path)
    else:
        student = train_student(v.images, head_logits(head, v.feats), v.targets, v.planes, cfg,
                                teacher_feats=v.feats, sononet_npz=data.sononet_npz)
        _save_student(student, cfg, path, epochs=cfg.epochs)
    if continue_minutes <= 0:
        return head, student.eval()
    more = replace(cfg, lr=cfg.lr / 3, max_minutes=continue_minutes)
    student = train_student(v.images, head_logits(head, v.feats), v.targets, v.planes, more, init=student.train(),
                            teacher_feats=v.feats)
    _save_student(student, cfg, final_path, continued_minutes=continue_minutes)
    return head, student


def load_student(path: Path) -> torch.nn.Module:
    """A student checkpoint written by train-planes ({"state_dict", "width_mult", "arch"}) as a model."""
    from edge.errors import ModelError

    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if "arch" not in ckpt:
        raise ModelError(f"student checkpoint {path} does not say its family (made before plane-cls 1.3.0); delete "
                         "it and let the recipe train its student again")
    student = build_student(float(ckpt["width_mult"]), arch=str(ckpt["arch"]))
    student.load_state_dict(ckpt["state_dict"])
    return student.eval()


def _save_student(student: torch.nn.Module, cfg: DistillConfig, path: Path, **meta: float) -> None:
    torch.save({"state_dict": student.state_dict(), "width_mult": cfg.width_mult, "arch": cfg.arch, **meta}, path)


def prepare_recipe(recipe, data_dir: str | Path | None,  # type: ignore[no-untyped-def]
                   limit_records: int | None = None):
    """(PlaneData, cache directory) of a `compress.planes.recipe.PlaneRecipe` (limit_records: see `prepare`)."""
    from compress.paths import REPO_ROOT, require_data_dir

    out = Path(recipe.cache_dir)
    out = out if out.is_absolute() else REPO_ROOT / out
    out.mkdir(parents=True, exist_ok=True)
    data = prepare(require_data_dir(data_dir), out, recipe.n_aug, recipe.hc18_images, recipe.n_junk, recipe.junk_seed,
                   limit_records)
    return data, out
