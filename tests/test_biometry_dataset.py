"""The training dataset feeds exactly what the device computes (one preprocessing contract), masks aligned."""

from __future__ import annotations

import numpy as np

from compress.biometry.dataset import Augment, HC18SegDataset, default_spec
from edge.preprocess import preprocess


def test_training_inputs_equal_runtime_preprocessing(hc18_dir, tmp_path):
    ds = HC18SegDataset(hc18_dir, "val", tmp_path)
    spec = default_spec()
    for i in (0, 7, 41):
        x, mask = ds[i]
        runtime = preprocess(ds.records[i].image(), spec).tensor[0]
        # the cache stores the resized frame as uint8: half a grey level of rounding, i.e. < 0.05 std units
        # for any frame with a grey-level std above 10 (HC18 frames: 20-60)
        assert np.abs(x.numpy() - runtime).max() < 0.05
        assert x.shape == mask.shape == (1, spec.height, spec.width)
        # the mask covers the head's share of the frame
        assert abs(float(mask.mean()) - ds.records[i].mask().mean()) < 0.005


def test_augmentation_moves_image_and_mask_together(hc18_dir, tmp_path):
    ds = HC18SegDataset(hc18_dir, "val", tmp_path)
    mask = ds.masks[0].astype(np.float32)
    img = mask * 180 + 30  # the head drawn bright, so its pixels can be found again after warping
    rng = np.random.default_rng(0)
    for _ in range(8):
        a_img, a_mask = Augment()(img, mask, rng)
        assert a_img.shape == img.shape and 0 <= a_mask.min() and a_mask.max() <= 1.0
        inside, outside = a_img[a_mask > 0.9], a_img[(a_mask < 0.1) & (a_img > 0)]
        assert inside.mean() > outside.mean() + 60  # same warp and flips applied to both
        # zoom 0.85-1.2 and shifts change the head's share of the frame by a bounded amount (no mask lost)
        assert 0.5 * mask.mean() < a_mask.mean() < 1.6 * mask.mean()
