"""The crop-refine pass (edge.biometry.refine): the crop is cut where the first ellipse says, head-aligned and
whole, and what is segmented on it comes back to the exact frame pixels; its training crops hold the whole
head under every jitter; the CV refuses a refine recipe without a finished first pass."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from compress.biometry.crop_dataset import HC18CropDataset
from compress.biometry.crossval import run_cv
from compress.biometry.dataset import default_spec
from compress.biometry.evaluate import torch_refine_predict_fn
from compress.biometry.train import TrainConfig
from compress.data.hc18 import load_split
from edge.biometry.ellipse import Ellipse
from edge.biometry.measure import measure_head
from edge.biometry.refine import CropSpec, crop_geometry, crop_logits_to_frame, cut, jittered, refine_prob
from edge.errors import ConfigError, InputError
from tests.biometry_fixtures import recipe


@pytest.fixture(scope="module")
def heads(hc18_dir: Path) -> list:
    """Val heads from the smallest to the largest reference HC (crop scales from magnified to shrunk)."""
    recs = sorted(load_split(hc18_dir, "val"), key=lambda r: r.hc_mm)
    return [recs[i] for i in np.linspace(0, len(recs) - 1, 12).astype(int)]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def test_reference_mask_cut_and_mapped_back_measures_the_reference_hc(heads: list) -> None:
    for r in heads:
        frame, ref = r.image(), r.ellipse()
        geom = crop_geometry(ref, frame.shape)
        crop_mask = np.clip(cut(ref.fill(frame.shape), geom), 0, 1)
        res = measure_head(crop_logits_to_frame(_logit(crop_mask), geom), r.pixel_mm, None)
        assert res.status == "measured", (r.name, res.reason)
        assert abs(res.hc.value - r.hc_mm) < 0.25, (r.name, res.hc.value, r.hc_mm)


def test_crop_is_head_aligned_centred_and_whole(heads: list) -> None:
    spec = CropSpec()
    for r in heads:
        frame, ref = r.image(), r.ellipse()
        m = cut(ref.fill(frame.shape), crop_geometry(ref, frame.shape, spec)) > 0.5
        ys, xs = np.nonzero(m)
        width, height = np.ptp(xs) + 1, np.ptp(ys) + 1
        assert width >= height  # major axis horizontal
        assert abs(xs.mean() - (spec.width - 1) / 2) < 2 and abs(ys.mean() - (spec.height - 1) / 2) < 2
        assert not (m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any()), r.name
        # the binding axis spans the crop / margin, unless the crop would have magnified past the frame's pixels
        span = max(width / spec.width, height / spec.height) * spec.margin
        scale = min(spec.width / (2 * ref.a * spec.margin), spec.height / (2 * ref.b * spec.margin))
        assert span == pytest.approx(1.0, abs=0.04) if scale <= 1 else span < 1.0


def test_large_heads_are_area_resized_first_and_small_ones_never_magnified() -> None:
    big = crop_geometry(Ellipse(400, 270, 300, 240, 30), (540, 800))
    assert big.resize_to is not None and big.resize_to[0] < 800
    small = crop_geometry(Ellipse(400, 270, 40, 30, 0), (540, 800))
    assert small.resize_to is None
    assert np.linalg.norm(small.frame_to_crop[:, :2], axis=0) == pytest.approx([1.0, 1.0])


def test_degenerate_inputs_are_refused() -> None:
    with pytest.raises(InputError, match="degenerate"):
        crop_geometry(Ellipse(10, 10, 0, 5, 0), (100, 100))
    with pytest.raises(InputError, match="degenerate"):
        crop_geometry(Ellipse(10, 10, math.nan, 5, 0), (100, 100))
    with pytest.raises(InputError, match="margin"):
        CropSpec(margin=0.8)
    geom = crop_geometry(Ellipse(50, 50, 20, 15, 0), (100, 100))
    with pytest.raises(InputError, match="does not match"):
        cut(np.zeros((90, 100), np.uint8), geom)


def test_refine_crops_where_the_first_pass_says_and_maps_the_second_map_back(heads: list) -> None:
    """The frame here is the reference mask itself and the 'network' thresholds it, so the refined map must
    measure the reference HC although the first pass misplaced the head (jittered ellipse)."""
    rng = np.random.default_rng(0)
    for r in heads[::3]:
        ref = r.ellipse()
        frame = ref.fill(r.image().shape).astype(np.uint8) * 255
        first = jittered(ref, rng, centre=0.05, size=(1.05, 1.1), angle_deg=8).fill(frame.shape).astype(np.float32)
        assert abs(measure_head(first, r.pixel_mm, None).hc.value - r.hc_mm) > 0.03 * r.hc_mm
        prob = refine_prob(frame, first, lambda crop: (crop / 255.0 - 0.5) * 20.0)
        assert measure_head(prob, r.pixel_mm, None).hc.value == pytest.approx(r.hc_mm, abs=0.3)


def test_a_first_map_without_a_head_is_refused_with_its_own_reason() -> None:
    frame = np.zeros((200, 300), np.uint8)
    blank = np.zeros((200, 300), np.float32)
    called = []
    prob = refine_prob(frame, blank, lambda crop: called.append(1) or np.zeros_like(crop))
    assert not called and prob is blank
    assert "no head found" in measure_head(prob, 0.2, None).reason


def test_training_crops_hold_the_whole_head_under_every_jitter(hc18_dir: Path) -> None:
    ds = HC18CropDataset(hc18_dir, "val", default_spec(), margin=1.3, train=True, seed=1)
    for i in range(0, len(ds), 4):
        x, m = ds[i]
        m = m[0].numpy()
        assert x.shape == (1, 160, 240) and abs(float(x.mean())) < 1e-3  # per-image normalised
        assert 0.15 < m.mean() < 0.6
        assert max(m[0].max(), m[-1].max(), m[:, 0].max(), m[:, -1].max()) < 0.5, ds.records[i].name


def test_refine_cv_needs_a_finished_first_pass_and_records_its_margin(hc18_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--crop-margin 0.5"):
        recipe(hc18_dir, tmp_path, "--crop-margin", "0.5")
    refine = recipe(hc18_dir, tmp_path, "--crop-margin", "1.3", "--epochs", "1", "--batch", "2",
                     "--width-mult", "0.25", "--tag", "_refine")
    with pytest.raises(ConfigError, match="--first-pass"):
        run_cv(refine, folds=2, limit=4)
    first = tmp_path / "student_cv{fold}.pt"
    with pytest.raises(ConfigError, match="does not exist"):
        run_cv(refine, folds=2, limit=4, only_fold=0, first_pass=first)
    base = TrainConfig(data=hc18_dir, out=tmp_path, role="student", epochs=1, batch=2, width_mult=0.25)
    run_cv(base, folds=2, limit=4)
    summary = tmp_path / "student_cv0_summary.json"
    kept = summary.read_text()
    summary.unlink()  # as while fold 0's first pass is still training (its checkpoint is saved every epoch)
    with pytest.raises(ConfigError, match="has not finished"):
        run_cv(refine, folds=2, limit=4, only_fold=0, first_pass=first)
    summary.write_text(kept)
    result = run_cv(refine, folds=2, limit=4, first_pass=first)
    assert len(result["rows"]) == 8 and (tmp_path / "cv_k2_refine.json").is_file()
    with pytest.raises(ValueError, match="whole frames"):  # a whole-frame student cannot refine
        torch_refine_predict_fn(tmp_path / "student_cv0.pt", tmp_path / "student_cv1.pt")
    predict = torch_refine_predict_fn(tmp_path / "student_cv0.pt", tmp_path / "student_refine_cv0.pt")
    frame = load_split(hc18_dir, "val")[0].image()
    assert predict(frame).shape == frame.shape

