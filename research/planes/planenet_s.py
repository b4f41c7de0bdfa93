"""PlaneNet-S, the plane-cls 1.2.0 student (not adopted since 1.3.0; docs/decisions.md): a MobileNet-style stack of
depthwise-separable blocks trained from scratch, gray 112x144 in, 9 logits out. At width 1.0 ~0.2 M parameters
and ~11 M multiply-accumulates; channel counts are multiples of 8 at every width.

Importing this module registers the family "planenet-s".
"""

from __future__ import annotations

import torch
from torch import nn

from compress.nets.families import Family, register_family
from compress.nets.plane_student import N_CLASSES, PooledClassifier

# (out_channels, stride) of each depthwise-separable block after the stem (stem: 3x3 conv, stride 2)
STAGES = ((32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (192, 2), (192, 1))
STEM = 24
HEAD = 320


def _ch(c: int, width_mult: float) -> int:
    return max(8, int(round(c * width_mult / 8)) * 8)


class DSBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.dw = nn.Sequential(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                                nn.ReLU(inplace=True))
        self.pw = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.act = nn.ReLU(inplace=True)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(x))
        return self.act(y + x if self.residual else y)


class PlaneStudent(PooledClassifier):
    """forward(x (N,1,112,144) per-image standardised) -> logits (N, n_classes)."""

    def __init__(self, width_mult: float = 1.0, n_classes: int = N_CLASSES, dropout: float = 0.2) -> None:
        super().__init__()
        c = _ch(STEM, width_mult)
        layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(1, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c),
                                                 nn.ReLU(inplace=True))]
        for cout, stride in STAGES:
            layers.append(DSBlock(c, _ch(cout, width_mult), stride))
            c = _ch(cout, width_mult)
        h = _ch(HEAD, width_mult)
        layers.append(nn.Sequential(nn.Conv2d(c, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU(inplace=True)))
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * h, n_classes)


register_family(Family("planenet-s", "planes", lambda w: PlaneStudent(w),
                       "PlaneNet-S: depthwise-separable CNN trained from scratch (plane-cls 1.2.0)"))
