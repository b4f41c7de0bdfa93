"""SonoNet-S, the plane-cls 1.3.0 student (not adopted since 1.4.0; docs/decisions.md): SonoNet-16's topology at
112x144, blocks 1-4 at half width and block 5 whole, every filter cut from the published weights
(`compress.nets.sononet_cut.copy_strongest_filters`). ~94 M multiply-accumulates, ~0.5 M parameters.

Importing this module registers the family "sononet-s", so research tools (and `train-planes --student
sononet-s` run with this module imported) can train it again.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from compress.nets.families import Family, register_family
from compress.nets.plane_student import N_CLASSES, SonoShaped
from compress.nets.sononet import SonoNet16, conv_bn, load_sononet16
from compress.nets.sononet_cut import conv_layers, copy_strongest_filters, sono_stack

WIDTHS = (8, 16, 32, 64, 128)  # output channels kept of SonoNet-16's five blocks (16, 32, 64, 128, 128)


class SonoStudent(SonoShaped):
    """forward(x (N,1,112,144) per-image standardised) -> logits (N, n_classes)."""

    def __init__(self, widths: tuple[int, ...] = WIDTHS, n_classes: int = N_CLASSES, dropout: float = 0.2) -> None:
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        self.features, cin = sono_stack(self.widths, lambda _j, cin, cout: conv_bn(cin, cout, 3))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * cin, n_classes)


@torch.no_grad()
def from_sononet(teacher: SonoNet16, frames: torch.Tensor, widths: tuple[int, ...] = WIDTHS,
                 n_classes: int = N_CLASSES) -> SonoStudent:
    """A SonoNet-S whose every filter is one of `teacher`'s, chosen on `frames` (N,1,112,144) standardised."""
    student = SonoStudent(widths, n_classes)
    copy_strongest_filters(teacher, conv_layers(student), frames)
    return student.eval()


def _fill(model: SonoStudent, npz: Path, frames: torch.Tensor) -> None:
    with torch.no_grad():
        copy_strongest_filters(load_sononet16(npz), conv_layers(model), frames)
    model.eval()


register_family(Family("sononet-s", "planes", lambda w: SonoStudent(), "SonoNet-S: SonoNet-16's topology, blocks 1-4 at "
                       "half width, filters cut from its published weights (plane-cls 1.3.0)",
                       fixed_width=True, from_sononet=_fill))
