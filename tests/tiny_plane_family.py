"""A plane student small enough for unit tests of the distillation loop: registered as family "tiny-pooled"
when imported (the shipped SonoNet-LR takes far longer per step)."""

from __future__ import annotations

from torch import nn

from compress.nets.families import FAMILIES, Family, register_family
from compress.nets.plane_student import N_CLASSES, PooledClassifier

NAME = "tiny-pooled"


class TinyPooled(PooledClassifier):
    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                                      nn.Conv2d(width, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.dropout = nn.Dropout(0.2)
        self.classifier = nn.Linear(2 * width, N_CLASSES)


if NAME not in FAMILIES:
    register_family(Family(NAME, "planes", lambda w: TinyPooled(max(4, round(16 * w))), "two-conv test student"))
