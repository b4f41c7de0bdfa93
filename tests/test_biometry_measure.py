"""Ellipse fit and HC/BPD/OFD measurement on real HC18 annotation masks, and its robustness gates."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from compress.data.hc18 import read_index
from edge.biometry.ellipse import Ellipse, fit_ellipse
from edge.biometry.measure import GateSettings, measure_head
from edge.errors import InputError
from edge.manifest import ModelRef

REF = ModelRef("head-seg", "test", "0" * 64)


@pytest.fixture(scope="module")
def records(hc18_dir):
    return read_index(hc18_dir)[::20]  # 40 images across the set


def test_ramanujan_perimeter_known_values():
    assert Ellipse(0, 0, 10, 10, 0).perimeter() == pytest.approx(2 * math.pi * 10, rel=1e-12)
    assert Ellipse(0, 0, 2, 1, 0).perimeter() == pytest.approx(9.688448220547675, rel=1e-9)  # exact elliptic integral


def test_hc_from_annotation_masks_matches_csv(records):
    err = []
    for r in records:
        res = measure_head(r.mask().astype(np.float32), r.pixel_mm, REF)
        assert res.status == "measured", (r.name, res.reason)
        assert res.hc.unit == "mm" and res.hc.model == REF and res.hc.flag == "ok"
        err.append(res.hc.value - r.hc_mm)
        assert res.bpd.value == pytest.approx(r.landmarks.bpd_mm(r.pixel_mm), abs=0.5)
        assert res.ofd.value == pytest.approx(r.landmarks.ofd_mm(r.pixel_mm), abs=0.5)
    assert np.abs(err).mean() < 0.3  # measured ~0.1 mm: rasterisation only


def _one(records):
    r = records[3]
    return r, r.mask()


def test_spurious_blob_is_ignored(records):
    r, mask = _one(records)
    clean = measure_head(mask.astype(np.float32), r.pixel_mm, REF)
    e = r.ellipse()
    noisy = mask.copy()
    # a blob a third of the head's size, placed away from the head
    cx = int(e.cx + 1.6 * e.a) if e.cx + 1.6 * e.a < mask.shape[1] - e.b / 3 else int(e.cx - 1.6 * e.a)
    cv2.circle(noisy, (cx, int(e.cy)), int(e.b / 3), 1, -1)
    res = measure_head(noisy.astype(np.float32), r.pixel_mm, REF)
    assert res.status == "measured"
    assert res.hc.value == pytest.approx(clean.hc.value, abs=0.3)


def test_leak_is_rejected_by_the_robust_fit(records):
    r, mask = _one(records)
    e = r.ellipse()
    leaky = mask.copy()
    # a tongue leaking out of the head along the minor axis, 40% of the semi-minor axis long
    _, minor = e.axis_endpoints()
    tip = minor[1] + (minor[1] - minor[0]) / np.linalg.norm(minor[1] - minor[0]) * 0.4 * e.b
    cv2.line(leaky, tuple(int(v) for v in minor[1]), tuple(int(v) for v in tip), 1, max(3, int(e.b * 0.25)))
    res = measure_head(leaky.astype(np.float32), r.pixel_mm, REF)
    assert res.status == "measured"
    assert res.hc.value == pytest.approx(r.hc_mm, rel=0.01)
    # a plain least-squares fit to the same outline is pulled by the leak much more
    cnt, _ = cv2.findContours(leaky, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    naive = fit_ellipse(cnt[0].reshape(-1, 2), iterations=1).ellipse
    assert abs(naive.perimeter() * r.pixel_mm - r.hc_mm) > 2 * abs(res.hc.value - r.hc_mm)


def test_empty_and_tiny_masks_give_no_measurement_with_reason():
    res = measure_head(np.zeros((540, 800), np.float32), 0.1, REF)
    assert res.status == "no_measurement" and res.hc.value is None and res.hc.flag == "no_measurement"
    assert "no head found" in res.reason
    tiny = np.zeros((540, 800), np.float32)
    tiny[10:14, 10:14] = 1
    assert measure_head(tiny, 0.1, REF).status == "no_measurement"


def test_non_elliptic_segmentation_fails_the_iou_gate():
    m = np.zeros((540, 800), np.float32)
    cv2.fillPoly(m, [np.array([[200, 100], [600, 100], [600, 160], [260, 160], [260, 450], [200, 450]])], 1)
    res = measure_head(m, 0.1, REF)
    assert res.status == "no_measurement" and "IoU" in res.reason


def test_noisy_probability_map_lowers_quality(records):
    r, mask = _one(records)
    sharp = measure_head(mask.astype(np.float32), r.pixel_mm, REF)
    rng = np.random.default_rng(0)
    soft = np.clip(mask * 0.3 + 0.35 + rng.normal(0, 0.03, mask.shape), 0, 1).astype(np.float32)
    unsure = measure_head(soft, r.pixel_mm, REF)
    assert unsure.status == "measured" and unsure.quality < sharp.quality
    assert unsure.hc.flag == "low_quality" and "quality" in unsure.hc.reason


@pytest.mark.parametrize("px", [0.0, -0.1, 2.5, 5.0, float("nan")])
def test_pixel_size_outside_range_is_refused(px):
    with pytest.raises(InputError, match="pixel size"):
        measure_head(np.zeros((64, 64), np.float32), px, REF)


def test_model_resolution_roundtrip_keeps_hc(records):
    """Reference mask -> model grid (the training target) -> logits -> frame map: HC survives the resolution."""
    from compress.biometry.dataset import default_spec, resized_mask
    from edge.biometry.segment import logits_to_frame
    from edge.preprocess import preprocess

    spec = default_spec()
    err = []
    for r in records[:15]:
        frame = r.image()
        soft = np.clip(resized_mask(r.mask(), spec), 1e-4, 1 - 1e-4)
        geom = preprocess(frame, spec).geometry
        prob = logits_to_frame(np.log(soft / (1 - soft)), geom)
        res = measure_head(prob, r.pixel_mm, REF)
        err.append(res.hc.value - r.hc_mm)
    assert np.abs(err).mean() < 0.5, err


SPREAD = GateSettings(spread_levels=(0.25, 0.75))


def test_spread_diagnostic_is_off_by_default(records):
    r, mask = _one(records)
    assert "hc_spread_rel" not in measure_head(mask.astype(np.float32), r.pixel_mm, REF).details


def test_sharp_outline_has_no_spread(records):
    r, mask = _one(records)
    res = measure_head(mask.astype(np.float32), r.pixel_mm, REF, SPREAD)
    assert abs(res.details["hc_spread_rel"]) < 0.002


@pytest.mark.parametrize("sigma", [3.0, 8.0])
def test_spread_of_a_blurred_outline_matches_the_blur(records, sigma):
    """A Gaussian-blurred edge crosses p = 0.25 and 0.75 at +-0.674 sigma from it, so the two outlines' HC differ
    by ~2 pi * 1.349 sigma: relative spread 1.349 sigma / mean radius (HC / 2 pi)."""
    r, mask = _one(records)
    prob = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)
    res = measure_head(prob, r.pixel_mm, REF, SPREAD)
    hc_px = res.hc.value / r.pixel_mm
    expected = 1.349 * sigma / (hc_px / (2 * math.pi))
    assert res.details["hc_spread_rel"] == pytest.approx(expected, rel=0.15)


def test_uncertain_band_is_refused_when_the_spread_gate_is_on(records):
    r, mask = _one(records)
    band = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (41, 41)))
    prob = np.where(mask > 0, 0.95, np.where(band > 0, 0.4, 0.02)).astype(np.float32)  # a faint 20 px halo
    open_gate = measure_head(prob, r.pixel_mm, REF, SPREAD)
    assert open_gate.status == "measured" and open_gate.details["hc_spread_rel"] > 0.05
    gated = measure_head(prob, r.pixel_mm, REF, GateSettings(spread_levels=(0.25, 0.75), max_hc_spread_rel=0.03))
    assert gated.status == "no_measurement" and "uncertain" in gated.reason
    assert gated.hc.value is None
    sharp = measure_head(mask.astype(np.float32), r.pixel_mm, REF, GateSettings(spread_levels=(0.25, 0.75), max_hc_spread_rel=0.03))
    assert sharp.status == "measured"


def test_spread_is_infinite_when_a_level_has_no_head():
    from edge.biometry.measure import hc_spread

    prob = np.zeros((200, 300), np.float32)
    cv2.ellipse(prob, (150, 100), (80, 60), 0, 0, 360, 0.6, -1)  # nothing reaches p = 0.75
    assert hc_spread(prob, (0.25, 0.75), 440.0) == float("inf")
