"""Every shipped bundle's graphs pass the TensorRT checks of every supported JetPack (compress/onnx_checks.py),
in `make test`: the check that would have caught head-seg 1.3.0's per-channel activation Q/DQ (issue #26
finding 1) before it shipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from compress.onnx_checks import check_onnx
from compress.trt_targets import SUPPORTED
from edge.manifest import load_manifest
from edge.models import MODELS_DIR

BUNDLES = sorted(p for p in MODELS_DIR.iterdir() if (p / "manifest.json").is_file())


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_every_graph_of_every_shipped_bundle_builds_on_every_supported_tensorrt(bundle: Path) -> None:
    manifest = load_manifest(bundle, verify=True)
    graphs = sorted({manifest.model_file, *manifest.variants.values()})
    assert graphs, f"{bundle.name} lists no graph"
    for graph in graphs:
        report = check_onnx(bundle / graph, SUPPORTED)
        assert report.ok, f"{bundle.name}/{graph}: " + "; ".join(report.problems)


def test_head_seg_int8_has_per_tensor_activations_only() -> None:
    assert not [p for p in check_onnx(MODELS_DIR / "head-seg" / "model.onnx").problems if "per axis" in p]
