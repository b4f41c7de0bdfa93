"""SonoNet-S: a plane student cut from SonoNet-16 itself (gray 112x144 in, 9 class logits out).

The from-scratch PlaneNet-S never learns what SonoNet-16's pretrained filters carry (425 labelled images are
too few), so this student starts from them: SonoNet-16's topology at half the input resolution, blocks 1-4 at
half width and block 5 whole, each kept filter copied from the published weights. Which filters are kept is
decided on real frames, layer by layer: the channels with the largest mean response after batch norm and
ReLU (structured pruning at initialisation). SonoNet's x255 input scale is folded into the first
convolution, so the input is standardised per image as for every other plane model.

Cost at 112x144: ~94 M multiply-accumulates and ~0.5 M parameters (the issue's budget: <= 100 M, <= 1 M).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from compress.nets.families import Family, register_family
from compress.nets.plane_student import INPUT_HW, N_CLASSES, PooledClassifier, mean_max
from compress.nets.sononet import BLOCKS, BN_EPS, SONONET_INPUT, SonoNet16

WIDTHS = (8, 16, 32, 64, 128)  # output channels of SonoNet-16's five blocks (16, 32, 64, 128, 128) kept
INPUT_SCALE = float(SONONET_INPUT["normalise"]["scale"])


def _conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout, eps=BN_EPS),
                         nn.ReLU(inplace=True))


class SonoShaped(PooledClassifier):
    """A SonoNet-16-shaped student: `widths` = its output channels per block."""

    widths: tuple[int, ...]


class SonoStudent(SonoShaped):
    """forward(x (N,1,112,144) per-image standardised) -> logits (N, n_classes).

    Same training interface as PlaneNet-S (`PooledClassifier`)."""

    def __init__(self, widths: tuple[int, ...] = WIDTHS, n_classes: int = N_CLASSES, dropout: float = 0.2) -> None:
        super().__init__()
        if len(widths) != len(BLOCKS):
            raise ValueError(f"widths needs one channel count per SonoNet block ({len(BLOCKS)}), got {widths}")
        self.widths = tuple(int(w) for w in widths)
        blocks, cin = [], 1
        for i, ((_, n), cout) in enumerate(zip(BLOCKS, self.widths)):
            layers: list[nn.Module] = []
            for _ in range(n):
                layers.append(_conv_bn(cin, cout))
                cin = cout
            if i < len(BLOCKS) - 1:
                layers.append(nn.MaxPool2d(2))
            blocks.append(nn.Sequential(*layers))
        self.features = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * cin, n_classes)


def conv_layers(model: nn.Module) -> list[nn.Sequential]:
    """The conv-BN(-ReLU) units of SonoNet-16 or SonoNet-S blocks, in order."""
    blocks = model.blocks if isinstance(model, SonoNet16) else model.features
    return [m for b in blocks for m in b if isinstance(m, nn.Sequential)]


@torch.no_grad()
def from_sononet(teacher: SonoNet16, frames: torch.Tensor, widths: tuple[int, ...] = WIDTHS,
                 n_classes: int = N_CLASSES) -> SonoStudent:
    """A SonoNet-S whose every filter is one of `teacher`'s, chosen on `frames` (N,1,112,144) standardised
    (`copy_strongest_filters`)."""
    student = SonoStudent(widths, n_classes)
    copy_strongest_filters(teacher, conv_layers(student), frames)
    return student.eval()


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
    `frames` (N,1,H,W, standardised per image) are kept, with their batch-norm statistics. SonoNet's x255
    input scale is folded into the first convolution. Max pooling follows blocks 1-4, as in SonoNet-16."""
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


def student_widths(model: nn.Module) -> tuple[int, ...] | None:
    """The block widths of a SonoNet-S (None for other networks): what a checkpoint records."""
    return model.widths if isinstance(model, SonoStudent) else None


def frames_for_selection(images: np.ndarray, n: int = 256, seed: int = 0) -> torch.Tensor:
    """(V,H,W) uint8 views -> n of them as standardised (n,1,H,W) float tensors, for `from_sononet`."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(images), size=min(n, len(images)), replace=False))
    x = torch.from_numpy(images[pick].astype(np.float32))[:, None]
    mu = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mu) / x.std(dim=(1, 2, 3), keepdim=True, correction=0).clamp_min(1e-6)  # as edge.preprocess


def _fill(model: SonoStudent, npz: Path, frames: torch.Tensor) -> None:
    from compress.nets.sononet import load_sononet16

    with torch.no_grad():
        copy_strongest_filters(load_sononet16(npz), conv_layers(model), frames)
    model.eval()


register_family(Family("sononet-s", "planes", lambda w: SonoStudent(), "SonoNet-S: SonoNet-16's topology, blocks 1-4 at "
                       "half width, filters cut from its published weights (plane-cls 1.3.0)",
                       fixed_width=True, from_sononet=_fill))
