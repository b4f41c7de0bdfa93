"""Cache of augmented views and frozen SonoNet-16 features: the expensive step, done once.

For every development record: the frame as it is + `n_aug` augmented full frames
(`compress.planes.augment.augment_frame`); held-out records: the frame only. Per view it keeps the student's
model-size image exactly as the device makes it (`compress.planes.contract.model_image`, uint8) and
SonoNet-16 features of SonoNet's own 224x288 view of the same frame: global mean and max
of the last block (128 + 128), mean of the adaptation hidden layer (64) and the 14 SonoNet logits, and the
last block's map average-pooled to MAP_HW (float16), the target of the student's spatial hint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from compress.data.planes import PlaneRecord
from compress.nets.plane_student import INPUT_HW
from compress.nets.sononet import SonoNet16, load_sononet16
from compress.planes.augment import augment_frame, clean_view
from compress.planes.contract import model_image
from edge.imageio import read_gray

log = logging.getLogger(__name__)
STUDENT_HW = INPUT_HW
FEATURE_DIM = 128 + 128 + 64 + 14
MAP_CHANNELS, MAP_HW = 128, (7, 9)  # SonoNet's last block (14x18 at 224x288) pooled 2x2


@dataclass
class ViewCache:
    record: np.ndarray     # (V,) index into the record list
    view: np.ndarray       # (V,) 0 = clean view, k > 0 augmented
    images: np.ndarray     # (V, h, w) uint8 student-resolution views
    feats: np.ndarray      # (V, FEATURE_DIM) float32 SonoNet features (last 14 = SonoNet logits)
    maps: np.ndarray       # (V, MAP_CHANNELS, *MAP_HW) float16 SonoNet last-block maps

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, record=self.record, view=self.view, images=self.images, feats=self.feats, maps=self.maps)

    @classmethod
    def load(cls, path: Path) -> "ViewCache":
        with np.load(path, allow_pickle=False) as d:
            return cls(d["record"], d["view"], d["images"], d["feats"], d["maps"])


def sononet_features(model: SonoNet16, views: np.ndarray) -> np.ndarray:
    """(N, 224, 288) uint8 views -> (N, FEATURE_DIM) features with SonoNet's own input normalisation."""
    return sononet_forward(model, views)[0]


@torch.no_grad()
def sononet_forward(model: SonoNet16, views: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 224, 288) uint8 views -> features (N, FEATURE_DIM) and pooled maps (N, MAP_CHANNELS, *MAP_HW)."""
    x = views.astype(np.float32)
    mu = x.mean(axis=(1, 2), keepdims=True)
    sd = np.maximum(x.std(axis=(1, 2), keepdims=True), 1e-6)
    t = torch.from_numpy(((x - mu) / sd * 255.0)[:, None])
    f = model.features(t)
    hidden = model.adaptation[0](f)
    logits = model.adaptation[1](hidden).mean(dim=(2, 3))
    out = torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3)), hidden.mean(dim=(2, 3)), logits], 1)
    maps = F.adaptive_avg_pool2d(f, MAP_HW)
    return out.numpy().astype(np.float32), maps.numpy().astype(np.float16)


class _Batcher:
    """Collects SonoNet views and runs them through the network a batch at a time."""

    def __init__(self, model: SonoNet16, batch: int) -> None:
        self.model, self.batch = model, batch
        self.feats: list[np.ndarray] = []
        self.maps: list[np.ndarray] = []
        self.pending: list[np.ndarray] = []

    def add(self, frame: np.ndarray) -> None:
        self.pending.append(clean_view(frame))
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            f, m = sononet_forward(self.model, np.stack(self.pending))
            self.feats.append(f)
            self.maps.append(m)
            self.pending.clear()

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        self.flush()
        return np.concatenate(self.feats), np.concatenate(self.maps)


def views_of(frames: list[np.ndarray], model: SonoNet16, batch: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full frames -> (student images, SonoNet features, SonoNet maps), each frame preprocessed its two ways."""
    b = _Batcher(model, batch)
    imgs = []
    for f in frames:
        imgs.append(model_image(f))
        b.add(f)
    return (np.stack(imgs), *b.arrays())


def build_cache(records: list[PlaneRecord], dev: set[int], model: SonoNet16 | str | Path, n_aug: int = 12,
                seed: int = 0, batch: int = 16, only: Sequence[int] | None = None) -> ViewCache:
    """Views of records[i] for i in `only` (default all): the frame, and n_aug augmented frames if i is in
    `dev`. Each record's augmentation has its own seed ([seed, i]), so any split of the work gives the same
    cache. `model`: SonoNet-16, or the path of its weights (worker processes load their own)."""
    if not isinstance(model, SonoNet16):
        model = load_sononet16(model)
    rec, vid, imgs = [], [], []
    b = _Batcher(model, batch)
    for n, i in enumerate(range(len(records)) if only is None else only):
        gray = read_gray(records[i].path)
        rng = np.random.default_rng([seed, i])
        frames = [gray] + ([augment_frame(gray, rng) for _ in range(n_aug)] if i in dev else [])
        for k, f in enumerate(frames):
            rec.append(i)
            vid.append(k)
            imgs.append(model_image(f))
            b.add(f)
        if n % 25 == 0:
            log.info("features: %d records done", n)
    feats, maps = b.arrays()
    return ViewCache(np.array(rec), np.array(vid), np.stack(imgs), feats, maps)


def build_cache_parallel(records: list[PlaneRecord], dev: set[int], sononet_npz: Path, n_aug: int,
                         workers: int = 2) -> ViewCache:
    """`build_cache` split over `workers` one-thread processes (records interleaved), joined in record order."""
    from concurrent.futures import ProcessPoolExecutor

    parts = [list(range(w, len(records), workers)) for w in range(workers)]
    with ProcessPoolExecutor(workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        caches = list(pool.map(build_cache, [records] * workers, [dev] * workers, [sononet_npz] * workers,
                               [n_aug] * workers, [0] * workers, [16] * workers, parts))
    order = np.argsort(np.concatenate([c.record for c in caches]), kind="stable")
    return ViewCache(*(np.concatenate([getattr(c, f) for c in caches])[order]
                       for f in ("record", "view", "images", "feats", "maps")))


@dataclass
class JunkViews:
    """The junk class's training views (compress.planes.junk), preprocessed as the real views are."""

    kind: np.ndarray       # (J,) junk kind names
    images: np.ndarray     # (J, h, w) uint8
    feats: np.ndarray      # (J, FEATURE_DIM) float32
    maps: np.ndarray       # (J, MAP_CHANNELS, *MAP_HW) float16

    def save(self, path: Path) -> None:
        np.savez(path, kind=self.kind, images=self.images, feats=self.feats, maps=self.maps)

    @classmethod
    def load(cls, path: Path) -> "JunkViews":
        with np.load(path, allow_pickle=False) as d:
            return cls(d["kind"], d["images"], d["feats"], d["maps"])


def build_junk(frames: list[np.ndarray], kinds: list[str], model: SonoNet16) -> JunkViews:
    images, feats, maps = views_of(frames, model)
    return JunkViews(np.array(kinds), images, feats, maps)
