"""HC18 segmentation data for training, built on the device's own preprocessing (one contract).

A training item is made the way the device sees a frame: the full-resolution uint8 frame is augmented as a
probe and scanner would change it (geometry, gain, gamma, speckle), then `edge.preprocess.preprocess` -- the
runtime's own function -- turns it into the model input. Without augmentation an item's input is therefore
exactly the runtime's input for that frame (tests/test_preprocess_contract.py). The target is the reference
ellipse mask moved by the same geometry and area-resized to the model grid (fraction of each model pixel
inside the head).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from compress.data.hc18 import HC18Record
from edge.manifest import PreprocessSpec, parse_preprocessing
from edge.preprocess import preprocess

DEFAULT_SIZE = (160, 240)   # model input (height, width) of head-seg <= 1.4.0
SIZE_MULTIPLE = 16          # the segmentation nets pool four times


def check_input_size(size: tuple[int, int]) -> None:
    if len(size) != 2 or any(int(s) != s or s < SIZE_MULTIPLE or s % SIZE_MULTIPLE for s in size):
        raise ValueError(f"input size {tuple(size)}: need two sides (height, width), each a multiple of "
                         f"{SIZE_MULTIPLE} (the segmentation nets pool four times), e.g. 256x384")


def preprocessing(size: tuple[int, int] = DEFAULT_SIZE) -> dict:
    """The preprocessing contract of a head-seg model of input `size` (copied into its manifest)."""
    check_input_size(size)
    return {"size": [int(size[0]), int(size[1])], "resize": "stretch", "interpolation": "area",
            "normalise": {"mode": "per_image", "scale": 1.0}}


def default_spec(size: tuple[int, int] = DEFAULT_SIZE) -> PreprocessSpec:
    return parse_preprocessing(preprocessing(size))


def resized_mask(mask: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Frame-coordinate mask (0/1 or 0..1) -> soft mask on the model grid (fraction of each pixel inside)."""
    return cv2.resize(mask.astype(np.float32), (spec.width, spec.height), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class Augment:
    """What a probe and scanner change in a head frame, applied to the full-resolution frame. Heads: any
    rotation or flip is anatomical. Speckle correlation is given in model pixels and scaled to the frame."""

    rotate_deg: float = 25.0
    zoom: tuple[float, float] = (0.85, 1.2)
    shift: float = 0.08
    gain: tuple[float, float] = (0.75, 1.3)
    gamma: tuple[float, float] = (0.7, 1.5)
    speckle: float = 0.25
    speckle_sigma: tuple[float, float] = (0.5, 1.5)   # model pixels
    speckle_prob: float = 0.7

    @classmethod
    def from_options(cls, d: dict[str, Any]) -> Augment:
        """From the recipe's task_options.augment (lists for ranges); unknown keys are refused by the caller."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def __call__(self, frame: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
                 model_width: int) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 frame, uint8 0..255 mask) of one frame -> the same, augmented."""
        h, w = frame.shape
        m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-self.rotate_deg, self.rotate_deg),
                                    rng.uniform(*self.zoom))
        m[:, 2] += rng.uniform(-self.shift, self.shift, 2) * (w, h)
        frame = cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        mask = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        if rng.random() < 0.5:
            frame, mask = frame[:, ::-1], mask[:, ::-1]
        if rng.random() < 0.5:
            frame, mask = frame[::-1], mask[::-1]
        lut = np.clip((np.arange(256) / 255.0) ** rng.uniform(*self.gamma) * rng.uniform(*self.gain), 0, 1)
        x = lut.astype(np.float32)[frame]
        if rng.random() < self.speckle_prob:  # multiplicative speckle, spatially correlated like real speckle
            sigma = rng.uniform(*self.speckle_sigma) * w / model_width
            noise = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigma)
            x *= 1.0 + rng.uniform(0, self.speckle) * noise / max(float(noise.std()), 1e-6)
        out = np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)   # the device sees 8-bit frames
        return out, np.ascontiguousarray(mask)


class HC18SegDataset(Dataset):
    """Items: (x (1,H,W) float32 = edge.preprocess of the (augmented) frame, mask (1,H,W) float32 in [0,1]).
    Frames and masks are read on first use and kept as uint8 (about 0.9 MB a frame)."""

    def __init__(self, records: list[HC18Record], spec: PreprocessSpec, augment: Augment | None = None,
                 seed: int = 0) -> None:
        self.records, self.spec, self.augment = list(records), spec, augment
        self.rng = np.random.default_rng(seed)
        self._frames: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.records)

    def frame(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The i-th full-resolution uint8 frame and its uint8 reference mask (255 inside the head)."""
        if i not in self._frames:
            r = self.records[i]
            self._frames[i] = (r.image(), (r.mask() * 255).astype(np.uint8))
        return self._frames[i]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        frame, mask = self.frame(i)
        if self.augment is not None:
            frame, mask = self.augment(frame, mask, self.rng, self.spec.width)
        x = preprocess(frame, self.spec).tensor[0]
        m = resized_mask(mask, self.spec) / np.float32(255.0)
        return torch.from_numpy(x), torch.from_numpy(np.ascontiguousarray(m)[None])
