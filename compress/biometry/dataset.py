"""HC18 segmentation dataset: preprocessed tensors (the manifest contract, `edge.preprocess`) + masks.

Frames are resized once with `edge.preprocess.preprocess` (identity normalisation, so the cached array is the
resized frame) and cached; augmentation works on the resized frame, then `edge.preprocess.normalise` applies
the shipped normalisation. Training and runtime therefore share one resize and one normalisation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from compress.data.hc18 import HC18Record, load_split
from edge.manifest import Normalisation, PreprocessSpec, parse_preprocessing
from edge.preprocess import normalise, preprocess

DEFAULT_SIZE = (160, 240)   # model input (height, width) of head-seg <= 1.3.0
SIZE_MULTIPLE = 16          # both segmentation nets pool four times


def check_input_size(size: tuple[int, int]) -> None:
    if len(size) != 2 or any(int(s) != s or s < SIZE_MULTIPLE or s % SIZE_MULTIPLE for s in size):
        raise ValueError(f"input size {tuple(size)}: need two sides (height, width), each a multiple of "
                         f"{SIZE_MULTIPLE} (the segmentation nets pool four times), e.g. 256x384")


def preprocessing(size: tuple[int, int] = DEFAULT_SIZE) -> dict:
    """The preprocessing contract of a head-seg model of input `size` (copied into its manifest at export)."""
    check_input_size(size)
    return {"size": [int(size[0]), int(size[1])], "resize": "stretch", "interpolation": "area",
            "normalise": {"mode": "per_image", "scale": 1.0}}


PREPROCESSING = preprocessing()


def default_spec(size: tuple[int, int] = DEFAULT_SIZE) -> PreprocessSpec:
    return parse_preprocessing(preprocessing(size))


def resized_frame(frame: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """The frame after the contract's resize only (float32, 0..255), via the runtime's own preprocess."""
    identity = replace(spec, normalise=Normalisation("fixed", mean=0.0, std=1.0 / 255.0))
    return preprocess(frame, identity).tensor[0, 0]


def resized_mask(mask: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Frame-coordinate 0/1 mask -> soft mask (fraction of each model pixel inside), float32."""
    return cv2.resize(mask.astype(np.float32), (spec.width, spec.height), interpolation=cv2.INTER_AREA)


def build_cache(records: list[HC18Record], spec: PreprocessSpec, path: Path) -> dict[str, np.ndarray]:
    """Resize every record once; cached as npz keyed by the spec size (git-ignored, under runs/)."""
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        if list(z["names"]) == [r.name for r in records]:
            return {k: z[k] for k in z.files}
    imgs = np.stack([resized_frame(r.image(), spec) for r in records]).astype(np.uint8)
    masks = np.stack([resized_mask(r.mask(), spec) for r in records]).astype(np.float16)
    path.parent.mkdir(parents=True, exist_ok=True)
    # written aside and renamed: two runs sharing an out folder (CV recipes side by side) never read half a file
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, images=imgs, masks=masks, names=np.array([r.name for r in records]))
    os.replace(tmp, path)
    return {"images": imgs, "masks": masks, "names": np.array([r.name for r in records])}


@dataclass(frozen=True)
class Augment:
    """Ultrasound-fitting augmentation at model resolution (heads: any rotation / flip is anatomical)."""

    rotate_deg: float = 25.0
    zoom: tuple[float, float] = (0.85, 1.2)
    shift: float = 0.08
    gain: tuple[float, float] = (0.75, 1.3)
    gamma: tuple[float, float] = (0.7, 1.5)
    speckle: float = 0.25

    def __call__(self, img: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        h, w = img.shape
        m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-self.rotate_deg, self.rotate_deg),
                                    rng.uniform(*self.zoom))
        m[:, 2] += rng.uniform(-self.shift, self.shift, 2) * (w, h)
        img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        mask = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        if rng.random() < 0.5:
            img, mask = img[:, ::-1], mask[:, ::-1]
        if rng.random() < 0.5:
            img, mask = img[::-1], mask[::-1]
        x = np.clip(img / 255.0, 0, 1) ** rng.uniform(*self.gamma) * rng.uniform(*self.gain)
        if rng.random() < 0.7:  # multiplicative speckle, spatially correlated like real speckle
            noise = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), rng.uniform(0.5, 1.5))
            x = x * (1.0 + rng.uniform(0, self.speckle) * noise / max(float(noise.std()), 1e-6))
        return (np.clip(x, 0, 1) * 255.0).astype(np.float32), np.ascontiguousarray(mask)


class HC18SegDataset(Dataset):
    """Items: (x (1,H,W) float32 normalised as the manifest says, mask (1,H,W) float32 in [0,1])."""

    def __init__(self, root: str | Path, split: str, cache_dir: Path, spec: PreprocessSpec | None = None,
                 augment: Augment | None = None, seed: int = 0) -> None:
        self.spec = spec or default_spec()
        self.records = load_split(root, split)
        cache = cache_dir / f"hc18_{split}_{self.spec.height}x{self.spec.width}.npz"
        data = build_cache(self.records, self.spec, cache)
        self.images, self.masks = data["images"], data["masks"]
        self.augment = augment
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img, mask = self.images[i].astype(np.float32), self.masks[i].astype(np.float32)
        if self.augment is not None:
            img, mask = self.augment(img, mask, self.rng)
        x = normalise(img, self.spec)
        return torch.from_numpy(np.ascontiguousarray(x)[None]), torch.from_numpy(np.ascontiguousarray(mask)[None])
