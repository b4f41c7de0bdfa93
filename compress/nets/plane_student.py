"""PlaneNet-S: the distilled plane-classification student (gray 112x144 in, 9 class logits out: 8 planes + junk).

A MobileNet-style stack of depthwise-separable blocks (3x3 depthwise + 1x1 pointwise, batch norm, ReLU;
residual where shapes match), global mean + max pooling, one linear layer. At width 1.0: ~0.2 M parameters
and ~11 M multiply-accumulates at 112x144 (see `count_macs`). Channel counts are multiples of 8 at every
width so the structured pruner and TensorRT get aligned shapes.
"""

from __future__ import annotations

import importlib

import torch
from torch import nn

from compress.nets.families import Family, register_family
from edge.errors import ConfigError

INPUT_HW = (112, 144)
N_CLASSES = 9  # edge.planes.taxonomy.MODEL_CLASSES: 8 planes + junk
# (out_channels, stride) of each depthwise-separable block after the stem (stem: 3x3 conv, stride 2, 16 ch)
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


def mean_max(f: torch.Tensor) -> torch.Tensor:
    """(N,C,H,W) -> (N,2C): global mean and max over space."""
    return torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], 1)


class PooledClassifier(nn.Module):
    """`features` -> global mean + max -> dropout -> `classifier`: the interface plane distillation trains
    (subclasses build `features`, `dropout`, `classifier`)."""

    features: nn.Module
    dropout: nn.Module
    classifier: nn.Linear

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier's input (N, 2 * channels of the last feature map)."""
        return mean_max(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.pooled(x)))


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
PLANE_FAMILY_MODULES = ("compress.nets.plane_student", "compress.nets.sono_student", "compress.nets.sono_lowrank")
ARCHS = ("planenet-s", "sononet-s", "sononet-lr")  # the plane families (registered by the modules above)
PRETRAINED = ("sononet-s", "sononet-lr")  # start from SonoNet-16's published filters (Family.from_sononet)


def build_student(width_mult: float = 1.0, arch: str = "planenet-s") -> nn.Module:
    """An untrained plane student of a registered family (compress.nets.families): PlaneNet-S at a width
    multiplier, SonoNet-S (`compress.nets.sono_student`) or SonoNet-LR (`compress.nets.sono_lowrank`), whose
    widths are fixed (width_mult 1.0). Checkpoints record `arch`; a missing one means planenet-s."""
    from compress.nets.families import FAMILIES

    if arch not in FAMILIES or FAMILIES.get(arch).task != "planes":
        for module in PLANE_FAMILY_MODULES:
            importlib.import_module(module)
    if arch not in ARCHS:
        raise ConfigError(f"unknown student arch {arch!r}; choose one of {ARCHS}")
    return FAMILIES.get(arch).create(width_mult)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_hw: tuple[int, int] = INPUT_HW) -> int:
    """Multiply-accumulates of conv and linear layers for one (1,1,H,W) input (forward hooks)."""
    total = 0

    def conv_hook(m: nn.Conv2d, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        total += int(out.numel()) * k

    def lin_hook(m: nn.Linear, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        total += m.in_features * m.out_features

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_hook(lin_hook) for m in model.modules() if isinstance(m, nn.Linear)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, *input_hw))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return total
