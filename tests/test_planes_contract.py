"""One preprocessing contract (#25 item 3): the student's training input for a frame is the input the device
makes of that frame. Real frames of every source (FETAL_PLANES_DB, African cohort, HC18), as they are and
augmented, through the training path (view cache -> model_input) and the runtime path (edge.preprocess with
the manifest's spec)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compress.data.planes import load_records
from compress.nets.sononet import load_sononet16
from compress.planes.augment import augment_frame
from compress.planes.contract import SPEC, STUDENT_PREPROCESSING, model_image, model_input
from compress.planes.features import build_cache
from compress.planes.junk import junk_frames
from edge.imageio import read_gray
from edge.manifest import parse_preprocessing
from edge.preprocess import preprocess


@pytest.fixture(scope="module")
def records(data_dir: Path) -> list:
    recs = load_records(data_dir, hc18_images=4)
    by_source: dict[str, list] = {}
    for r in recs:
        by_source.setdefault(r.dataset, []).append(r)
    return [rs[k] for rs in by_source.values() for k in (0, len(rs) // 2)]


def _runtime(frame: np.ndarray) -> np.ndarray:
    return preprocess(frame, parse_preprocessing(STUDENT_PREPROCESSING)).tensor


@pytest.mark.parametrize("augmented", [False, True])
def test_training_input_equals_runtime_input(records: list, augmented: bool) -> None:
    rng = np.random.default_rng(7)
    assert len({r.dataset for r in records}) >= 3  # every source's frame geometry is covered
    for r in records:
        frame = read_gray(r.path)
        if augmented:
            frame = augment_frame(frame, rng)
        train = model_input(model_image(frame)[None]).numpy()
        np.testing.assert_allclose(train, _runtime(frame), rtol=0, atol=2e-5)


def test_view_cache_holds_runtime_inputs_of_the_augmented_frames(data_dir: Path, records: list) -> None:
    """The cache build replays the same seeded augmentation: its images are the runtime inputs of those frames."""
    recs = records[:2]
    cache = build_cache(recs, {0, 1}, load_sononet16(data_dir / "peers" / "sononet" / "SonoNet16.npz"), n_aug=2, seed=3)
    k = 0
    for i, r in enumerate(recs):
        gray = read_gray(r.path)
        rng = np.random.default_rng([3, i])
        for frame in [gray] + [augment_frame(gray, rng) for _ in range(2)]:
            np.testing.assert_allclose(model_input(cache.images[k:k + 1]).numpy(), _runtime(frame), atol=2e-5)
            k += 1
    assert k == len(cache.images)


def test_junk_training_frames_follow_the_same_contract() -> None:
    frames, _ = junk_frames(8, seed=1, kinds=("gaussian", "screen", "blobs", "flat_sector"))
    for f in frames:
        np.testing.assert_allclose(model_input(model_image(f)[None]).numpy(), _runtime(f), atol=2e-5)


def test_manifest_spec_is_the_contract_spec() -> None:
    assert parse_preprocessing(STUDENT_PREPROCESSING) == SPEC
