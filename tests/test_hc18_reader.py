"""HC18 reader on the real data: reference ellipses reproduce the challenge HC, landmarks sit on their axes,
splits are grouped by subject and deterministic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from compress.data.hc18 import SPLITS, load_split, read_index, split_of, subject_of
from edge.errors import InputError


@pytest.fixture(scope="module")
def records(hc18_dir):
    return read_index(hc18_dir)


def test_index_reads_every_annotated_image_with_csv_pixel_size(records):
    assert len(records) == 799
    px = np.array([r.pixel_mm for r in records])
    assert px.min() > 0.04 and px.max() < 0.4  # the CSV's CRLF lines parsed into numbers
    assert all(r.landmarks is not None for r in records)
    assert records[0].name == "000_HC" and records[0].hc_mm == pytest.approx(44.3)


def test_reference_ellipse_perimeter_reproduces_csv_hc(records):
    err = np.array([r.ellipse().perimeter() * r.pixel_mm - r.hc_mm for r in records])
    # measured: mean |error| 0.007 mm, max 0.046 mm over all 799 images
    assert np.abs(err).mean() < 0.02
    assert np.abs(err).max() < 0.1


def test_landmarks_are_frame_coordinates_on_the_ellipse_axes(records):
    # scale / center_w / center_h are NOT applied: raw end points already match the ellipse axes in mm
    bpd = np.array([2 * r.ellipse().b * r.pixel_mm - r.landmarks.bpd_mm(r.pixel_mm) for r in records[::4]])
    ofd = np.array([2 * r.ellipse().a * r.pixel_mm - r.landmarks.ofd_mm(r.pixel_mm) for r in records[::4]])
    assert abs(bpd.mean()) < 0.05 and np.abs(bpd).mean() < 0.2
    assert abs(ofd.mean()) < 0.05 and np.abs(ofd).mean() < 0.2


def test_filled_mask_matches_ellipse_area(records):
    for r in records[:5]:
        mask = r.mask()
        assert mask.shape == r.image().shape
        assert mask.sum() == pytest.approx(math.pi * r.ellipse().a * r.ellipse().b, rel=0.01)


def test_splits_grouped_by_subject_and_cover_everything(hc18_dir, records):
    sides = {s: {r.subject for r in load_split(hc18_dir, s)} for s in SPLITS}
    assert not (sides["train"] & sides["val"] or sides["train"] & sides["test"] or sides["val"] & sides["test"])
    assert sum(len(load_split(hc18_dir, s)) for s in SPLITS) == len(records)
    n_test = len(load_split(hc18_dir, "test"))
    assert 0.15 * len(records) < n_test < 0.3 * len(records)
    # multi-image subjects exist and stay together
    assert any(r.name == "010_2HC" for r in records)
    assert {r.split for r in records if r.subject == "010"} == {split_of("010")}


def test_split_is_a_pure_function_of_the_subject():
    assert split_of("010") == split_of("010")
    assert subject_of("010_2HC.png") == "010"
    with pytest.raises(InputError, match="subject"):
        subject_of("nounderscore.png")


def test_unknown_split_is_refused(hc18_dir):
    with pytest.raises(InputError, match="split 'tset'"):
        load_split(hc18_dir, "tset")
