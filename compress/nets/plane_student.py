"""What every plane student shares: its input (gray 112x144, standardised per image), its 9 outputs (8 planes +
junk), the pooled-classifier interface plane distillation trains (`PooledClassifier`: features -> global mean +
max -> dropout -> linear), building one by family name, and its size (`count_params`, `count_macs`).

The shipped family is SonoNet-LR (`compress.nets.sono_lowrank`, plane-cls 1.4.0). Families tried and not adopted
(PlaneNet-S, SonoNet-S) live in research/planes and register themselves when imported.
"""

from __future__ import annotations

import torch
from torch import nn

from edge.errors import ConfigError

INPUT_HW = (112, 144)
N_CLASSES = 9  # edge.planes.taxonomy.MODEL_CLASSES: 8 planes + junk


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


class SonoShaped(PooledClassifier):
    """A SonoNet-16-shaped student: `widths` = its output channels per block."""

    widths: tuple[int, ...]


def build_student(width_mult: float = 1.0, arch: str = "sononet-lr") -> PooledClassifier:
    """An untrained plane student of a registered family (compress.nets.families); SonoNet-LR by default,
    whose widths are fixed (width_mult 1.0). Families that are not pooled classifiers (the toy task's) refuse."""
    from compress.nets.families import family

    fam = family(arch)
    if fam.task != "planes":
        raise ConfigError(f"family {arch!r} makes {fam.task} models, not a plane student")
    model = fam.create(width_mult)
    if not isinstance(model, PooledClassifier):
        raise ConfigError(f"family {arch!r} ({fam.summary}) is not a plane student: distillation needs its pooled "
                          "features (compress.nets.plane_student.PooledClassifier); use sononet-lr")
    return model


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
