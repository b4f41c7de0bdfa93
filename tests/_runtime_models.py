"""Tiny hand-wired ONNX bundles for runtime tests (torch is used here, in tests only).

Not trained models: their weights are set by hand so that on the synthetic sweep
(edge.sources.synthetic) the plane model answers Trans-thalamic when the bright head ring is in view
and Other otherwise, and the head model segments the ring. They exercise the runtime's plumbing
(queues, best frames, biometry, exam building, storage) with numbers the test can predict.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

from edge.manifest import MANIFEST_FORMAT, file_entry
from edge.planes.taxonomy import MODEL_CLASSES

PLANE_SIZE = (64, 80)
HEAD_SIZE = (120, 160)


class _Plane(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(4)
        self.fc = nn.Linear(1, len(MODEL_CLASSES))
        with torch.no_grad():
            self.fc.weight.zero_()
            self.fc.bias.fill_(-8.0)
            tt, other = MODEL_CLASSES.index("Trans-thalamic"), MODEL_CLASSES.index("Other")
            self.fc.weight[tt, 0] = 6.0      # ring in view: pooled max well above the speckle's
            self.fc.bias[tt] = -6.0 * 1.9
            self.fc.bias[other] = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.amax(self.pool(x), dim=(2, 3)))


class _Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.pool(x) - 2.0) * 8.0


def _bundle(d: Path, net: nn.Module, name: str, task: str, size: tuple[int, int], kind: str,
            extra: dict) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    x = torch.zeros(1, 1, *size)
    with warnings.catch_warnings():  # the legacy exporter is the project's choice (see the rules of the house)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net.eval(), (x,), str(d / "model.onnx"), input_names=["input"], output_names=["logits"],
                          opset_version=17, dynamo=False)
    manifest = {
        "format": MANIFEST_FORMAT, "name": name, "version": "0.0.1-test", "task": task,
        "model_file": "model.onnx", "files": {"model.onnx": file_entry(d / "model.onnx")}, "precision": "fp32",
        "opset": 17, "input": {"name": "input", "shape": [1, 1, *size], "dtype": "float32"},
        "output": {"name": "logits", "kind": kind, **extra},
        "preprocessing": {"size": list(size), "resize": "stretch", "interpolation": "area",
                          "normalise": {"mode": "per_image", "scale": 1.0}},
    }
    if task == "planes":
        manifest["calibration_params"] = {"temperature": 1.0, "unknown_threshold": 0.5}
    (d / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return d


def plane_bundle(d: Path) -> Path:
    return _bundle(d, _Plane(), "test-planes", "planes", PLANE_SIZE, "class_logits",
                   {"class_names": list(MODEL_CLASSES)})


def head_bundle(d: Path) -> Path:
    return _bundle(d, _Head(), "test-head", "biometry", HEAD_SIZE, "segmentation_logits", {})
