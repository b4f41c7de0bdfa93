"""SonoNet-LR: a plane student that keeps SonoNet-16's full width and factorises its convolutions instead.

SonoNet-S (plane-cls 1.3.0, now research/planes/sononet_s.py) fits the 100 M MAC budget by dropping half the filters of blocks 1-4, which
costs its frozen features ~12 points of macro-F1 against the whole SonoNet-16 at the same input. Here every
3x3 convolution after the first keeps all of SonoNet-16's output channels but is replaced by a 3x3
convolution into `rank` channels followed by a 1x1 convolution back to the full width (Zhang et al.,
"Accelerating very deep convolutional networks for classification and detection", TPAMI 2016: the
response-reconstruction form). Both factors come from SonoNet-16's own filters: on real frames, the principal
subspace (PCA) of a layer's responses gives P (C_out x rank); the 3x3 factor is P^T W, the 1x1 factor P with
bias mu - P P^T mu, so the layer reproduces the rank-r projection of the original response. Batch norm and
ReLU follow unchanged. Layers are factorised in order, each on the already-factorised network's activations.

At 112x144 with ranks of a quarter of each width: ~89 M multiply-accumulates, ~0.3 M parameters.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from compress.nets.families import Family, register_family
from compress.nets.plane_student import N_CLASSES, SonoShaped
from compress.nets.sononet import BLOCKS, BN_EPS, SonoNet16
from compress.nets.sononet_cut import INPUT_SCALE, conv_layers, pooled_after, sono_stack

WIDTHS = tuple(c for c, _ in BLOCKS)  # SonoNet-16's widths, kept whole
RANK_FRACTION = 0.25


def default_ranks(fraction: float = RANK_FRACTION) -> tuple[int, ...]:
    """One rank per conv layer (13); the first layer (1 input channel) is not factorised (rank 0)."""
    ranks = []
    for cout, n in BLOCKS:
        ranks += [max(4, int(round(cout * fraction)))] * n
    ranks[0] = 0
    return tuple(ranks)


class LowRankUnit(nn.Sequential):
    """conv3x3 (cin -> rank, no bias) -> conv1x1 (rank -> cout, bias) -> BN -> ReLU; rank 0: plain conv-BN-ReLU."""

    def __init__(self, cin: int, cout: int, rank: int) -> None:
        convs: list[nn.Module] = ([nn.Conv2d(cin, rank, 3, padding=1, bias=False), nn.Conv2d(rank, cout, 1)]
                                  if rank else [nn.Conv2d(cin, cout, 3, padding=1, bias=False)])
        super().__init__(*convs, nn.BatchNorm2d(cout, eps=BN_EPS), nn.ReLU(inplace=True))
        self.rank = rank


class SonoLowRank(SonoShaped):
    """forward(x (N,1,112,144) per-image standardised) -> logits (N, n_classes); a `PooledClassifier`."""

    def __init__(self, ranks: tuple[int, ...] | None = None, n_classes: int = N_CLASSES,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.ranks = tuple(int(r) for r in (ranks if ranks is not None else default_ranks()))
        n_layers = sum(n for _, n in BLOCKS)
        if len(self.ranks) != n_layers:
            raise ValueError(f"ranks needs one entry per SonoNet-16 conv layer ({n_layers}), got {len(self.ranks)}")
        self.features, cin = sono_stack(WIDTHS, lambda j, cin, cout: LowRankUnit(cin, cout, self.ranks[j]))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * cin, n_classes)
        self.widths = WIDTHS


def units(model: SonoLowRank) -> list[LowRankUnit]:
    return [m for b in model.features for m in b if isinstance(m, LowRankUnit)]


def from_sononet(teacher: SonoNet16, frames: torch.Tensor, ranks: tuple[int, ...] | None = None,
                 n_classes: int = N_CLASSES) -> SonoLowRank:
    """A SonoNet-LR whose factors come from `teacher`'s filters and their responses on `frames`
    (N,1,H,W standardised per image, as the student's input)."""
    return fill_from_sononet(SonoLowRank(ranks, n_classes), teacher, frames)


@torch.no_grad()
def fill_from_sononet(student: SonoLowRank, teacher: SonoNet16, frames: torch.Tensor) -> SonoLowRank:
    """Fill `student`'s 13 units from `teacher`, in order, each on the already-filled units' activations.
    A factorised unit gets the PCA factors of the teacher layer's response, the unfactorised first one the
    teacher's filters (SonoNet's x255 input scale folded in); batch norm is copied."""
    student.eval()  # batch norm must use the copied statistics, not update them
    pools = pooled_after()
    x = frames
    for j, (tu, su) in enumerate(zip(conv_layers(teacher), units(student))):
        t_conv, t_bn = tu[0], tu[1]
        w = t_conv.weight * (INPUT_SCALE if j == 0 else 1.0)
        if su.rank:
            p, mu = principal_subspace(nn.functional.conv2d(x, w, padding=1), su.rank)
            su[0].weight.copy_(torch.einsum("cr,cikl->rikl", p, w))
            su[1].weight.copy_(p[:, :, None, None])
            su[1].bias.copy_(mu - p @ (p.T @ mu))
        else:
            su[0].weight.copy_(w)
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(su[-2], name).copy_(getattr(t_bn, name))
        x = su(x)
        if j in pools:
            x = nn.functional.max_pool2d(x, 2)
    return student


def principal_subspace(y: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Responses (N,C,H,W) -> (P (C, rank) top principal directions over channels, channel means (C,))."""
    flat = y.permute(1, 0, 2, 3).reshape(y.shape[1], -1).double()
    mu = flat.mean(1)
    cov = torch.cov(flat)
    _, vecs = torch.linalg.eigh(cov)  # ascending eigenvalues
    return vecs[:, -rank:].flip(1).float(), mu.float()


def _fill(model: SonoLowRank, npz: Path, frames: torch.Tensor) -> None:
    from compress.nets.sononet import load_sononet16

    fill_from_sononet(model, load_sononet16(npz), frames)


register_family(Family("sononet-lr", "planes", lambda w: SonoLowRank(), "SonoNet-LR: SonoNet-16 at full width, every 3x3 "
                       "convolution after the first factorised to a quarter rank from its published weights (plane-cls 1.4.0)",
                       fixed_width=True, from_sononet=_fill))
