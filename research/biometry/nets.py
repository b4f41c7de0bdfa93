"""Head networks tried and not adopted, registered as model families for research recipes only.

`sono-seg-l`: SonoSeg-S with SonoNet-16's whole encoder (every published filter, 16-32-64-128-128): 3.2x the
compute for -0.065 mm (SE 0.075) out of fold on 3 Dec 2026, not adopted (docs/decisions.md).
"""

from __future__ import annotations

from compress.nets.families import Family, register_family
from compress.nets.sono_seg import SonoSeg, fill_from_sononet
from compress.nets.sononet import BLOCKS

FULL_WIDTHS = tuple(c for c, _ in BLOCKS)

register_family(Family("sono-seg-l", "biometry", lambda w: SonoSeg(FULL_WIDTHS), "SonoSeg with SonoNet-16's whole "
                       "encoder (capacity probe, not adopted)", fixed_width=True, from_sononet=fill_from_sononet))
