"""The plane student's one preprocessing contract: training builds its inputs exactly as the device does.

`STUDENT_PREPROCESSING` is the `preprocessing` block every plane bundle's manifest carries, and the only
place it is written. Training augments the FULL frame (`compress.planes.augment.augment_frame`), makes the
model-size image with `edge.preprocess.resize` (cached as uint8: `model_image`) and standardises it in
torch with the manifest's normalisation (`model_input`: per-image mean and population std, as
`edge.preprocess.normalise` computes with numpy). tests/test_planes_contract.py checks the two paths agree.
"""

from __future__ import annotations

import numpy as np
import torch

from compress.nets.plane_student import INPUT_HW
from edge.manifest import PreprocessSpec, parse_preprocessing
from edge.preprocess import resize, to_gray

STUDENT_PREPROCESSING = {"size": list(INPUT_HW), "resize": "center_crop", "interpolation": "area",
                         "normalise": {"mode": "per_image", "scale": 1.0}}
SPEC: PreprocessSpec = parse_preprocessing(STUDENT_PREPROCESSING)


def model_image(frame: np.ndarray, spec: PreprocessSpec = SPEC) -> np.ndarray:
    """A full frame (gray or BGR uint8) -> the model-size uint8 image the device makes before normalising."""
    return resize(to_gray(frame), spec)[0]


def model_input(images: torch.Tensor | np.ndarray, spec: PreprocessSpec = SPEC) -> torch.Tensor:
    """Model-size images (N,H,W) or (N,1,H,W), uint8 or float in gray levels -> the (N,1,H,W) float32 input
    `edge.preprocess.normalise` makes of each (population std, as numpy's)."""
    x = torch.as_tensor(images).float()
    if x.dim() == 3:
        x = x[:, None]
    n = spec.normalise
    if n.mode != "per_image":
        return (x / 255.0 - n.mean) / n.std
    mu = x.mean(dim=(1, 2, 3), keepdim=True)
    sd = x.std(dim=(1, 2, 3), keepdim=True, correction=0).clamp_min(1e-6)
    return (x - mu) / sd * n.scale
