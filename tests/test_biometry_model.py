"""The shipped head-seg model: export matches PyTorch, checksum refuses altered files, HC on held-out subjects."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from compress.biometry.dataset import DEFAULT_SIZE, default_spec, preprocessing
from compress.biometry.evaluate import evaluate
from compress.data.hc18 import load_split
from compress.nets.families import family
from compress.nets.segnet import count_params
from compress.stages.common import ort_predict, torch_predict
from compress.stages.export import export_onnx
from edge.preprocess import preprocess
from edge.biometry.measure import measure_head
from edge.biometry.segment import HeadSegmenter
from edge.errors import ModelError
from edge.models import load_model, shipped_model_dir



@pytest.fixture(scope="module")
def test_records(hc18_dir):
    return load_split(hc18_dir, "test")


def test_networks_build_with_the_promised_sizes():
    assert count_params(family("ds-seg").create(1.0)) < 500_000
    assert count_params(family("sono-seg").create(1.0)) < 600_000
    x = torch.zeros(1, 1, *DEFAULT_SIZE)
    for name, width in (("ds-seg", 0.5), ("sono-seg", 1.0), ("unet", 0.5)):
        assert family(name).create(width).eval()(x).shape == x.shape


def test_onnx_export_matches_pytorch_on_real_frames(tmp_path, test_records):
    torch.manual_seed(0)
    model = family("ds-seg").create(1.0).eval()
    path = export_onnx(model, (1, 1, *DEFAULT_SIZE), tmp_path / "m.onnx")
    x = np.concatenate([preprocess(r.image(), default_spec()).tensor for r in test_records[:3]])
    ref, got = torch_predict(model)(x), ort_predict(path)(x)
    assert np.abs(ref - got).max() <= 1e-3 * np.abs(ref).max()


def test_shipped_manifest_carries_the_training_contract():
    m = load_model("head-seg").manifest
    size = tuple(m.raw["preprocessing"]["size"])
    assert m.raw["preprocessing"] == preprocessing(size)  # training and runtime share one contract
    assert m.input_shape == (1, 1, *size) and m.output_kind == "segmentation_logits"
    assert m.model_path.stat().st_size <= 2 * 1024 * 1024
    assert "test" in m.raw["provenance"]["split"] and m.raw["metrics"]["eval_split"] == "test"
    assert (m.directory / "MODEL_CARD.md").is_file()


@pytest.mark.parametrize("damage", ["truncate", "flip_byte"])
def test_altered_model_is_refused(tmp_path, damage):
    bundle = tmp_path / "head-seg"
    shutil.copytree(shipped_model_dir("head-seg"), bundle)
    data = (bundle / "model.onnx").read_bytes()
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data = data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:]
    (bundle / "model.onnx").write_bytes(data)
    with pytest.raises(ModelError, match="reinstall"):
        load_model(bundle)


def test_shipped_model_measures_held_out_heads(test_records):
    """First 12 held-out test images (test subjects never used in training or model choice).

    Answers flagged "ok" must be within 5 % of the reference HC; none may be off by more than 15 % (a gross
    failure); 007_HC, the hardest of them (1.1.0 leaked into the amniotic fluid there and was refused), must
    be refused or flagged low quality (1.2.0: +9 %, 1.3.0: +5 %, both flagged); every frame gets an answer or a
    reason, and the mean error must stay within 2.5 mm (1.2.0 measured 1.58 mm, 1.3.0 1.86 mm; whole test set
    2.25 / 2.28 mm)."""
    seg = HeadSegmenter("head-seg", threads=1)
    errors, refused, flags = [], [], {}
    for r in test_records[:12]:
        res = measure_head(seg(r.image()).prob, r.pixel_mm, seg.ref)
        if res.status != "measured":
            refused.append(r.name)
            assert res.hc.value is None and res.reason
            continue
        assert res.hc.model == seg.ref
        err = res.hc.value - r.hc_mm
        errors.append(err)
        flags[r.name] = res.hc.flag
        assert abs(err) <= 0.15 * r.hc_mm, (r.name, err)
        if res.hc.flag == "ok":
            assert abs(err) <= 0.05 * r.hc_mm, (r.name, err)
    assert "007_HC" in refused or flags["007_HC"] == "low_quality"
    assert len(refused) <= 1, refused
    assert np.abs(errors).mean() <= 2.5, errors


def test_evaluate_with_reference_masks_is_near_perfect(hc18_dir):
    recs = {hashlib.sha1(r.image().tobytes()).hexdigest(): r for r in load_split(hc18_dir, "test")[:6]}
    oracle = lambda frame: recs[hashlib.sha1(frame.tobytes()).hexdigest()].mask().astype(np.float32)  # noqa: E731
    m = evaluate(oracle, "test", hc18_dir, limit=6)
    assert m["n_images"] == 6 and m["no_answer"] == 0
    assert m["dice_mean"] > 0.99 and m["hc_mae_mm"] < 0.3 and m["bpd_mae_mm"] < 0.5
