"""Cutting a narrower network from SonoNet-16's published filters (compress.nets.sononet_cut), as the shipped
head family SonoSeg-S does for its encoder, on real plane frames."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from compress.nets.sono_seg import sonoseg_from_sononet
from compress.nets.sononet import BLOCKS
from compress.nets.sononet_cut import frames_for_selection
from edge.manifest import parse_preprocessing
from edge.preprocess import preprocess
from tests.sono_fixtures import frames, sononet  # noqa: F401 (fixtures)


def _encode(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    for i, block in enumerate(model.blocks):
        x = block(x if i == 0 else F.max_pool2d(x, 2))
    return x


def test_full_width_cut_reproduces_sononet(sononet: torch.nn.Module, frames: np.ndarray) -> None:
    """With every channel kept, the cut encoder is SonoNet-16 with its x255 input scale folded in."""
    x = frames_for_selection(frames, n=len(frames))
    full = sonoseg_from_sononet(sononet, x, widths=tuple(c for c, _ in BLOCKS)).eval()
    with torch.no_grad():
        ref = sononet.features(x * 255.0)
        got = _encode(full, x)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-3 * float(ref.abs().max()))


def test_half_width_cut_keeps_the_strongest_first_layer_filters(sononet: torch.nn.Module, frames: np.ndarray) -> None:
    x = frames_for_selection(frames, n=len(frames))
    s = sonoseg_from_sononet(sononet, x).eval()
    with torch.no_grad():
        teacher_first = sononet.blocks[0][0](x * 255.0).mean(dim=(0, 2, 3))
        student_first = s.blocks[0][0](x).mean(dim=(0, 2, 3))
    kept = torch.sort(torch.argsort(teacher_first, descending=True)[:s.widths[0]]).values
    torch.testing.assert_close(student_first, teacher_first[kept], rtol=1e-4, atol=1e-4)


def test_selection_frames_are_standardised_as_the_device_does(frames: np.ndarray) -> None:
    x = frames_for_selection(frames, n=3, seed=1)
    spec = parse_preprocessing({"size": list(frames.shape[1:]), "resize": "stretch", "interpolation": "area",
                                "normalise": {"mode": "per_image", "scale": 1.0}})
    device = np.concatenate([preprocess(f, spec).tensor for f in frames])
    assert any(np.allclose(x[0].numpy(), d, atol=1e-5) for d in device)
