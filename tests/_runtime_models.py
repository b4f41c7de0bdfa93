"""Tiny hand-wired ONNX bundles for runtime tests (torch is used here, in tests only).

Not trained models: their weights are set by hand so that on the synthetic sweep
(edge.sources.synthetic) the plane model answers Trans-thalamic when the bright head ring is in view
and Other otherwise, and the head model segments the ring. They exercise the runtime's plumbing
(queues, best frames, biometry, exam building, storage) with numbers the test can predict.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

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
            classes: tuple[str, ...]) -> Path:
    """The project's one exporter and one manifest writer, as the pipeline uses them."""
    from compress.pipeline.manifest import manifest_dict, write_manifest
    from compress.stages.export import export_onnx

    d.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the legacy exporter is the project's choice (see the rules of the house)
        warnings.simplefilter("ignore", DeprecationWarning)
        export_onnx(net, (1, 1, *size), d / "model.onnx")
    extra = {"calibration_params": {"temperature": 1.0, "unknown_threshold": 0.5}} if task == "planes" else {}
    write_manifest(d, manifest_dict(d, name=name, version="0.0.1-test", task=task, model_file="model.onnx",
                                    precision="fp32", input_shape=(1, 1, *size), output_kind=kind, class_names=classes,
                                    preprocessing={"size": list(size), "resize": "stretch", "interpolation": "area",
                                                   "normalise": {"mode": "per_image", "scale": 1.0}},
                                    provenance={"training_data": "none: weights set by hand"}, metrics={}, **extra))
    return d


def plane_bundle(d: Path) -> Path:
    return _bundle(d, _Plane(), "test-planes", "planes", PLANE_SIZE, "class_logits", MODEL_CLASSES)


def head_bundle(d: Path) -> Path:
    return _bundle(d, _Head(), "test-head", "biometry", HEAD_SIZE, "segmentation_logits", ("head",))
