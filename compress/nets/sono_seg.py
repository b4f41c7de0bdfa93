"""SonoSeg-S: a head-segmentation student whose encoder is cut from SonoNet-16's published filters.

The depthwise-separable head student (`segnet.SegStudent`) learns every filter from 541 labelled heads, and
its worst frames are masks that leak past a skull the probe barely shows (docs/biometry.md). SonoNet-16 was
trained on a large set of fetal scans, brain planes among them, so its filters already respond to skull
echoes. This student keeps SonoNet-16's five conv blocks (2-2-3-3-3 layers of 3x3 conv + BN + ReLU, max
pooling between blocks) at half width in blocks 1-4 and whole in block 5, with every filter copied from the
weights (the strongest on real head frames, `sononet_cut.copy_strongest_filters`), and adds a light
U-Net decoder of depthwise-separable blocks with a skip from every encoder block.

Input: (N, 1, H, W) standardised per image (SonoNet's x255 is folded into the first convolution), H and W
divisible by 16. Output: one logit map (N, 1, H, W).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from compress.nets.families import Family, register_family
from compress.nets.segnet import DSBlock
from compress.nets.sononet_cut import copy_strongest_filters
from compress.nets.sononet import BLOCKS, SonoNet16, conv_bn, load_sononet16

WIDTHS = (8, 16, 32, 64, 128)


class SonoSeg(nn.Module):
    def __init__(self, widths: tuple[int, ...] = WIDTHS) -> None:
        super().__init__()
        if len(widths) != len(BLOCKS):
            raise ValueError(f"widths needs one channel count per SonoNet block ({len(BLOCKS)}), got {widths}")
        self.widths = tuple(int(w) for w in widths)
        blocks, cin = [], 1
        for (_, n), cout in zip(BLOCKS, self.widths):
            blocks.append(nn.Sequential(*[conv_bn(cin if i == 0 else cout, cout, 3) for i in range(n)]))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        w = self.widths
        # decoder level i takes the level below (i + 1) up-sampled and block i's map
        self.decoder = nn.ModuleList([DSBlock(w[i + 1] + w[i], w[i])
                                      for i in reversed(range(len(w) - 1))])
        self.head = nn.Conv2d(w[0], 1, 1)

    def encoder_units(self) -> list[nn.Sequential]:
        """The 13 conv-BN-ReLU units, in SonoNet-16's order (what `copy_strongest_filters` fills)."""
        return [u for b in self.blocks for u in b]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.blocks):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for dec in self.decoder:
            s = skips.pop()
            x = dec(torch.cat([F.interpolate(x, size=s.shape[-2:], mode="bilinear", align_corners=False), s], 1))
        return self.head(x)


@torch.no_grad()
def sonoseg_from_sononet(teacher: SonoNet16, frames: torch.Tensor, widths: tuple[int, ...] = WIDTHS) -> SonoSeg:
    """A SonoSeg-S with its encoder cut from `teacher` on `frames` (N,1,H,W) standardised; decoder untrained."""
    model = SonoSeg(widths)
    copy_strongest_filters(teacher, model.encoder_units(), frames)
    return model


def fill_from_sononet(model: SonoSeg, npz: Path, frames: torch.Tensor) -> None:
    """Fill `model`'s encoder with SonoNet-16's strongest filters on `frames` (in place)."""
    copy_strongest_filters(load_sononet16(npz), model.encoder_units(), frames)


register_family(Family("sono-seg", "biometry", lambda w: SonoSeg(), "SonoSeg-S: SonoNet-16's encoder at half width "
                       "(blocks 1-4) cut from its published filters, depthwise-separable U-Net decoder (head-seg 1.3.0)",
                       fixed_width=True, from_sononet=fill_from_sononet))
