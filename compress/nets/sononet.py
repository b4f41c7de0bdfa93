"""SonoNet-16 (Baumgartner et al., IEEE TMI 2017, arXiv:1612.05601) in PyTorch, loading the published weights.

Architecture (from the paper): a VGG-16-like feature extractor with 16 base features - blocks of 3x3
convolutions (2, 2, 3, 3, 3 layers; 16, 32, 64, 128, 128 channels), max pooling after blocks 1-4 - then an
adaptation stage of 1x1 convolutions (128 -> 64 -> 14), each with batch norm, ReLU everywhere except
after the last one, and a global mean over space that gives one logit per class.

Weights: `peers/sononet/SonoNet16.npz` (Apache-2.0), 75 Lasagne arrays, 5 per conv layer in the order
[W, beta, gamma, mean, inv_std]; convolutions have no bias; batch-norm eps is Lasagne's 1e-4.
Input: gray H 224 x W 288, standardised per image then multiplied by 255 (see `SONONET_INPUT`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from edge.errors import ModelError

SONONET_CLASSES = ("3VV", "4CH", "Abdominal", "Background", "Brain (Cb.)", "Brain (Tv.)", "Femur",
                   "Kidneys", "Lips", "LVOT", "Profile", "RVOT", "Spine (cor.)", "Spine (sag.)")
SONONET_INPUT = {"size": [224, 288], "resize": "center_crop", "interpolation": "area",
                 "normalise": {"mode": "per_image", "scale": 255.0}}
BLOCKS = ((16, 2), (32, 2), (64, 3), (128, 3), (128, 3))
BN_EPS = 1e-4


def conv_bn(cin: int, cout: int, k: int, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout, eps=BN_EPS)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class SonoNet16(nn.Module):
    """forward(x (N,1,224,288)) -> logits (N,14); `features(x)` -> last block's map (N,128,14,18)."""

    def __init__(self, n_classes: int = 14) -> None:
        super().__init__()
        blocks, cin = [], 1
        for i, (cout, n) in enumerate(BLOCKS):
            layers: list[nn.Module] = []
            for _ in range(n):
                layers.append(conv_bn(cin, cout, 3))
                cin = cout
            if i < len(BLOCKS) - 1:
                layers.append(nn.MaxPool2d(2))
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.ModuleList(blocks)
        self.adaptation = nn.Sequential(conv_bn(128, 64, 1), conv_bn(64, n_classes, 1, relu=False))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for b in self.blocks:
            x = b(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adaptation(self.features(x)).mean(dim=(2, 3))


def _conv_layers(model: SonoNet16) -> list[nn.Sequential]:
    convs = [m for b in model.blocks for m in b if isinstance(m, nn.Sequential)]
    return convs + list(model.adaptation)


def load_sononet16(npz_path: str | Path) -> SonoNet16:
    """Build SonoNet-16 and load the published Lasagne arrays; ModelError if the file does not fit."""
    npz_path = Path(npz_path)
    if not npz_path.is_file():
        raise ModelError(f"SonoNet weights {npz_path} not found; expected peers/sononet/SonoNet16.npz")
    with np.load(npz_path, allow_pickle=False) as data:
        arrays = [data[f"arr_{i}"] for i in range(len(data.files))]
    model = SonoNet16()
    layers = _conv_layers(model)
    if len(arrays) != 5 * len(layers):
        raise ModelError(f"{npz_path} holds {len(arrays)} arrays; SonoNet-16 needs {5 * len(layers)}")
    for i, seq in enumerate(layers):
        w, beta, gamma, mean, inv_std = arrays[5 * i:5 * i + 5]
        conv, bn = seq[0], seq[1]
        if tuple(w.shape) != tuple(conv.weight.shape):
            raise ModelError(f"{npz_path} array {5 * i} has shape {w.shape}, "
                             f"layer {i} needs {tuple(conv.weight.shape)}")
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(w.astype(np.float32)))
            bn.weight.copy_(torch.from_numpy(gamma.astype(np.float32)))
            bn.bias.copy_(torch.from_numpy(beta.astype(np.float32)))
            bn.running_mean.copy_(torch.from_numpy(mean.astype(np.float32)))
            var = inv_std.astype(np.float64) ** -2 - BN_EPS
            bn.running_var.copy_(torch.from_numpy(np.maximum(var, 0.0).astype(np.float32)))
    return model.eval()


def sononet_input(gray: np.ndarray) -> np.ndarray:
    """A gray frame -> SonoNet's (1,1,224,288) input (centre crop to aspect, area resize, std*255)."""
    from edge.manifest import parse_preprocessing
    from edge.preprocess import preprocess

    return preprocess(gray, parse_preprocessing(SONONET_INPUT)).tensor
