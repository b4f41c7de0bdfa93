"""Export the trained student as a shipped bundle: model.onnx + manifest.json (+ calibration_params)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

from compress.nets.plane_student import INPUT_HW
from compress.planes.export import export_onnx, write_manifest
from edge.planes.taxonomy import MODEL_CLASSES

STUDENT_PREPROCESSING = {"size": list(INPUT_HW), "resize": "center_crop", "interpolation": "area",
                         "normalise": {"mode": "per_image", "scale": 1.0}}
NAME, VERSION = "plane-cls", "1.0.0"


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def ship_student(model: torch.nn.Module, directory: Path, temperature: float, threshold: float,
                 provenance: dict[str, Any], metrics: dict[str, float]) -> Path:
    """Write model.onnx + manifest.json into `directory`; checks ONNX == PyTorch on a random input."""
    directory.mkdir(parents=True, exist_ok=True)
    path = export_onnx(model, directory / "model.onnx", INPUT_HW)
    import onnxruntime as ort

    x = np.random.default_rng(0).standard_normal((1, 1, *INPUT_HW)).astype(np.float32)
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(x)).numpy()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    if not np.allclose(got, ref, atol=1e-4):
        raise RuntimeError(f"exported ONNX differs from PyTorch by {np.abs(got - ref).max():.2e}")
    extra = {"calibration_params": {"temperature": round(float(temperature), 4),
                                    "unknown_threshold": round(float(threshold), 4)},
             "provenance": {**provenance, "git_commit": git_commit()}, "metrics": metrics}
    return write_manifest(directory, NAME, VERSION, INPUT_HW, MODEL_CLASSES, STUDENT_PREPROCESSING, extra)
