"""The head training data: full frames augmented as a probe would change them, image and mask moved together,
8-bit frames into the runtime's own preprocessing (the exact-equality case is tests/test_preprocess_contract.py)."""

from __future__ import annotations

import numpy as np
import pytest

from compress.biometry.dataset import Augment, HC18SegDataset, default_spec
from compress.data.hc18 import load_split


@pytest.fixture(scope="module")
def val(hc18_dir) -> HC18SegDataset:
    return HC18SegDataset(load_split(hc18_dir, "val")[:3], default_spec())


def test_augmentation_moves_image_and_mask_together_on_the_full_frame(val: HC18SegDataset) -> None:
    _, mask = val.frame(0)
    img = np.where(mask > 0, 210, 30).astype(np.uint8)  # the head drawn bright, to find it again after warping
    rng = np.random.default_rng(0)
    for _ in range(8):
        a_img, a_mask = Augment()(img, mask, rng, 240)
        assert a_img.dtype == np.uint8 and a_img.shape == img.shape == a_mask.shape   # a frame as a probe sends it
        inside, outside = a_img[a_mask > 230], a_img[(a_mask < 25) & (a_img > 0)]
        assert inside.mean() > outside.mean() + 60   # same warp and flips applied to both
        # zoom 0.85-1.2 and shifts change the head's share of the frame by a bounded amount (no mask lost)
        assert 0.5 * mask.mean() < a_mask.mean() < 1.6 * mask.mean()


def test_items_are_model_inputs_with_the_head_share_of_the_frame(val: HC18SegDataset) -> None:
    spec = default_spec()
    for i in range(len(val)):
        x, m = val[i]
        assert x.shape == m.shape == (1, spec.height, spec.width)
        assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1.0) < 1e-3   # per-image normalised
        assert abs(float(m.mean()) - val.records[i].mask().mean()) < 0.005


def test_augmented_items_differ_run_to_run_but_repeat_with_the_seed(hc18_dir) -> None:
    recs = load_split(hc18_dir, "val")[:1]
    a, b = (HC18SegDataset(recs, default_spec(), Augment(), seed=5) for _ in range(2))
    first, again = a[0][0], b[0][0]
    assert np.array_equal(first.numpy(), again.numpy()) and not np.array_equal(first.numpy(), a[0][0].numpy())
