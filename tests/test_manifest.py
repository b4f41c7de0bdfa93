"""Manifest contract: checksums verified, truncated or altered files refused with a clear ModelError."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.errors import ModelError
from edge.manifest import MANIFEST_FORMAT, file_entry, load_manifest
from edge.preprocess import preprocess


def _bundle(tmp_path: Path, payload: bytes = b"0123456789" * 100) -> Path:
    (tmp_path / "model.onnx").write_bytes(payload)
    manifest = {
        "format": MANIFEST_FORMAT, "name": "t", "version": "1", "task": "planes", "model_file": "model.onnx",
        "files": {"model.onnx": file_entry(tmp_path / "model.onnx")},
        "input": {"name": "input", "shape": [1, 1, 64, 96]},
        "output": {"name": "logits", "kind": "class_logits", "class_names": ["a", "b"]},
        "preprocessing": {"size": [64, 96], "resize": "letterbox", "normalise": {"mode": "per_image"}},
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_intact_bundle_loads(tmp_path: Path) -> None:
    m = load_manifest(_bundle(tmp_path))
    assert m.class_names == ("a", "b") and m.preprocessing.width == 96


def test_truncated_model_is_refused(tmp_path: Path) -> None:
    d = _bundle(tmp_path)
    (d / "model.onnx").write_bytes(b"0123456789" * 50)
    with pytest.raises(ModelError, match="truncated"):
        load_manifest(d)


def test_altered_model_is_refused(tmp_path: Path) -> None:
    d = _bundle(tmp_path)
    (d / "model.onnx").write_bytes(b"9876543210" * 100)
    with pytest.raises(ModelError, match="sha256"):
        load_manifest(d)


def test_garbage_manifest_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_manifest(tmp_path)


@pytest.mark.parametrize("mode", ["stretch", "letterbox", "center_crop"])
def test_geometry_maps_model_pixels_back_to_frame(tmp_path: Path, mode: str) -> None:
    """A bright dot at a known frame position must map back within one frame pixel per model pixel."""
    m = load_manifest(_bundle(tmp_path))
    spec = type(m.preprocessing)(64, 96, mode, "area", m.preprocessing.normalise)
    frame = np.zeros((540, 800), np.uint8)
    frame[300:310, 420:430] = 255
    mi = preprocess(frame, spec)
    img = mi.tensor[0, 0]
    yx = np.array(np.unravel_index(np.argmax(img), img.shape), float)
    back = mi.geometry.to_frame(np.array([yx[1], yx[0]]))
    tol = max(mi.geometry.scale_x, mi.geometry.scale_y)
    assert abs(back[0] - 424.5) <= tol and abs(back[1] - 304.5) <= tol
