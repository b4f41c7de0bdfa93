"""SonoSeg-S, the head student with a SonoNet-16 encoder: the cut keeps SonoNet's arithmetic on real head
frames, the pipeline's `student.init: sononet16` fills it from the published weights, and it exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from compress.biometry.dataset import HC18SegDataset, default_spec
from compress.data.hc18 import load_split
from compress.nets.families import family
from compress.nets.sono_seg import SonoSeg, sonoseg_from_sononet
from compress.nets.sononet import BLOCKS, load_sononet16
from compress.pipeline.config import sononet_weights
from compress.stages.common import ort_predict, torch_predict
from compress.stages.export import export_onnx
from edge.errors import ConfigError


@pytest.fixture(scope="module")
def heads(hc18_dir: Path) -> HC18SegDataset:
    return HC18SegDataset(load_split(hc18_dir, "val")[:6], default_spec())


def test_full_width_encoder_reproduces_sononet_on_head_frames(data_dir: Path, heads: HC18SegDataset) -> None:
    """Every channel kept: block 5 of the encoder is SonoNet-16's last block, x255 folded into conv 1."""
    sononet = load_sononet16(sononet_weights(data_dir))
    x = torch.stack([heads[i][0] for i in range(6)])
    full = sonoseg_from_sononet(sononet, x, widths=tuple(c for c, _ in BLOCKS)).eval()
    with torch.no_grad():
        ref = sononet.features(x * 255.0)
        got = x
        for i, block in enumerate(full.blocks):
            got = block(got if i == 0 else torch.nn.functional.max_pool2d(got, 2))
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-3 * float(ref.abs().max()))


def test_the_family_fills_the_encoder_from_sononet_and_exports(data_dir: Path, heads: HC18SegDataset,
                                                               tmp_path: Path) -> None:
    fam = family("sono-seg")
    model, fresh = fam.create(1.0), fam.create(1.0)
    fam.from_sononet(model, sononet_weights(data_dir), torch.stack([heads[i][0] for i in range(6)]))
    assert isinstance(model, SonoSeg)
    assert not torch.allclose(model.encoder_units()[0][0].weight, fresh.encoder_units()[0][0].weight)
    shape = (1, 1, default_spec().height, default_spec().width)
    path = export_onnx(model, shape, tmp_path / "m.onnx")
    x = np.stack([heads[i][0].numpy() for i in range(2)])
    ref, got = torch_predict(model)(x), ort_predict(path)(x)
    assert np.abs(ref - got).max() <= 1e-3 * np.abs(ref).max()


def test_fixed_widths_and_unknown_families_are_refused() -> None:
    with pytest.raises(ConfigError, match="fixed widths"):
        family("sono-seg").create(2.0)
    with pytest.raises(ConfigError, match="unknown model family 'sono-seg-xl'"):
        family("sono-seg-xl")
