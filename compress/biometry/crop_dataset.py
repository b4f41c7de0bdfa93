"""HC18 crops around the reference ellipse, for the refine pass (edge.biometry.refine).

Training crops are planned on a jittered reference ellipse (a first pass misplaces the head a little), then
get the intensity augmentation and flips of the whole-frame dataset; val crops use the reference ellipse as
it is. Frames are read on first use and kept (~0.3 GB for train + val).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from compress.biometry.dataset import Augment
from compress.data.hc18 import load_split
from edge.biometry.refine import CropSpec, crop_geometry, cut, jittered
from edge.manifest import PreprocessSpec
from edge.preprocess import normalise

CROP_AUGMENT = Augment(rotate_deg=0.0, zoom=(1.0, 1.0), shift=0.0)  # geometry comes from the jittered crop


class HC18CropDataset(Dataset):
    """Items: (x (1,H,W) float32 normalised as `spec` says, soft mask (1,H,W)), both on the crop grid."""

    def __init__(self, root: str | Path, split: str, spec: PreprocessSpec, margin: float,
                 train: bool = False, seed: int = 0) -> None:
        self.spec = spec
        self.crop = CropSpec(spec.height, spec.width, margin)
        self.records = load_split(root, split)
        self.frames: dict[int, np.ndarray] = {}
        self.train = train
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        r = self.records[i]
        frame = self.frames.get(i)
        if frame is None:
            frame = self.frames[i] = r.image()
        ref = r.ellipse()
        geom = crop_geometry(jittered(ref, self.rng) if self.train else ref, frame.shape, self.crop)
        # the reference mask is the filled reference ellipse (HC18Record.mask), on the frame's own grid
        img, mask = cut(frame, geom), np.clip(cut(ref.fill(frame.shape), geom), 0.0, 1.0)
        if self.train:
            img, mask = CROP_AUGMENT(img, mask, self.rng)
        x = normalise(img, self.spec)
        return torch.from_numpy(np.ascontiguousarray(x)[None]), torch.from_numpy(np.ascontiguousarray(mask)[None])
