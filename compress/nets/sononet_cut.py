"""Cutting students from SonoNet-16's published filters: the helpers the shipped families share.

SonoNet-LR (`sono_lowrank`, plane-cls) and SonoSeg-S (`sono_seg`, head-seg) start from SonoNet-16's own
filters rather than from scratch (a few hundred labelled images are too few to learn what those filters carry).
Which filters a narrower layer keeps is decided on real frames, layer by layer: the channels with the largest
mean response after batch norm and ReLU. SonoNet's x255 input scale is folded into the first convolution, so
the input is standardised per image as for every other model here.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from compress.nets.sononet import BLOCKS, SONONET_INPUT, SonoNet16

INPUT_SCALE = float(SONONET_INPUT["normalise"]["scale"])


def sono_stack(widths: tuple[int, ...], unit: Callable[[int, int, int], nn.Module]) -> tuple[nn.Sequential, int]:
    """SonoNet-16's layout (BLOCKS: 2, 2, 3, 3, 3 conv units, max pooling after blocks 1-4) with `widths[i]`
    output channels in block i; unit(j, cin, cout) makes conv unit j. Returns (features, last width)."""
    if len(widths) != len(BLOCKS):
        raise ValueError(f"widths needs one channel count per SonoNet block ({len(BLOCKS)}), got {widths}")
    blocks, cin, j = [], 1, 0
    for i, ((_, n), cout) in enumerate(zip(BLOCKS, widths)):
        layers: list[nn.Module] = []
        for _ in range(n):
            layers.append(unit(j, cin, cout))
            cin, j = cout, j + 1
        if i < len(BLOCKS) - 1:
            layers.append(nn.MaxPool2d(2))
        blocks.append(nn.Sequential(*layers))
    return nn.Sequential(*blocks), cin


def conv_layers(model: nn.Module) -> list[nn.Sequential]:
    """The conv-BN(-ReLU) units of SonoNet-16 (`blocks`) or of a SonoNet-shaped student (`features`), in order."""
    blocks = model.blocks if isinstance(model, SonoNet16) else model.features
    return [m for b in blocks for m in b if isinstance(m, nn.Sequential)]


def pooled_after() -> frozenset[int]:
    """Indices of SonoNet-16's 13 conv units that max pooling follows (the last unit of blocks 1-4)."""
    ends = np.cumsum([n for _, n in BLOCKS]) - 1
    return frozenset(int(j) for j in ends[:-1])


def strongest_channels(y: torch.Tensor, k: int) -> torch.Tensor:
    """Indices (ascending) of the k channels of post-ReLU responses y (N,C,H,W) with the largest mean."""
    return torch.sort(torch.argsort(y.mean(dim=(0, 2, 3)), descending=True)[:k]).values


@torch.no_grad()
def copy_strongest_filters(teacher: SonoNet16, units: list[nn.Sequential], frames: torch.Tensor) -> None:
    """Fill `units` (conv-BN(-ReLU), SonoNet-16's 13 feature layers at any widths) with teacher filters.

    Layer by layer, the teacher's unit is run on the already-cut student's activations (its input channels
    restricted to those kept before), and the output channels with the largest mean post-ReLU response on
    `frames` (N,1,H,W, standardised per image) are kept, with their batch-norm statistics. Max pooling follows
    blocks 1-4, as in SonoNet-16."""
    t_units = conv_layers(teacher)
    if len(t_units) != len(units):
        raise ValueError(f"teacher has {len(t_units)} conv layers, the student {len(units)}")
    keep_in = torch.arange(1)
    x = frames
    pools = pooled_after()
    for j, (tu, su) in enumerate(zip(t_units, units)):
        t_conv, t_bn = tu[0], tu[1]
        w = t_conv.weight[:, keep_in]
        if j == 0:
            w = w * INPUT_SCALE
        y = torch.relu(nn.functional.batch_norm(nn.functional.conv2d(x, w, padding=1), t_bn.running_mean,
                                                t_bn.running_var, t_bn.weight, t_bn.bias, False, 0.0, t_bn.eps))
        keep_out = strongest_channels(y, su[0].out_channels)
        su[0].weight.copy_(w[keep_out])
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(su[1], name).copy_(getattr(t_bn, name)[keep_out])
        x = y[:, keep_out]
        if j in pools:
            x = nn.functional.max_pool2d(x, 2)
        keep_in = keep_out


def frames_for_selection(images: np.ndarray, n: int = 256, seed: int = 0) -> torch.Tensor:
    """(V,H,W) uint8 views -> n of them as standardised (n,1,H,W) float tensors, for `Family.from_sononet`."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(images), size=min(n, len(images)), replace=False))
    x = torch.from_numpy(images[pick].astype(np.float32))[:, None]
    mu = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mu) / x.std(dim=(1, 2, 3), keepdim=True, correction=0).clamp_min(1e-6)  # as edge.preprocess
