"""Cache of augmented views and frozen SonoNet-16 features: the expensive step, done once.

For every development record: one clean view + `n_aug` augmented views; held-out records: the clean view
only. Per view it keeps the student-resolution image (uint8) and SonoNet-16 features: global mean and max
of the last block (128 + 128), mean of the adaptation hidden layer (64) and the 14 SonoNet logits, and the
last block's map average-pooled to MAP_HW (float16), the target of the student's spatial hint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from compress.data.planes import PlaneRecord
from compress.nets.plane_student import INPUT_HW
from compress.nets.sononet import SonoNet16
from compress.planes.augment import augment_view, clean_view, student_view
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


def build_cache(records: list[PlaneRecord], dev: set[int], model: SonoNet16, n_aug: int = 12,
                seed: int = 0, batch: int = 16) -> ViewCache:
    rng = np.random.default_rng(seed)
    rec, vid, imgs, feats, maps, pending = [], [], [], [], [], []

    def flush() -> None:
        if pending:
            f, m = sononet_forward(model, np.stack(pending))
            feats.append(f)
            maps.append(m)
            pending.clear()

    for i, r in enumerate(records):
        gray = read_gray(r.path)
        views = [clean_view(gray)] + ([augment_view(gray, rng) for _ in range(n_aug)] if i in dev else [])
        for k, v in enumerate(views):
            rec.append(i)
            vid.append(k)
            imgs.append(student_view(v, STUDENT_HW))
            pending.append(v)
            if len(pending) >= batch:
                flush()
        if i % 50 == 0:
            log.info("features: %d / %d records", i, len(records))
    flush()
    return ViewCache(np.array(rec), np.array(vid), np.stack(imgs), np.concatenate(feats),
                     np.concatenate(maps))
