"""ONNX export of plane networks (legacy exporter, opset 17, static shape) and manifest writing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edge.manifest import MANIFEST_FORMAT, file_entry


def export_onnx(model: nn.Module, path: str | Path, input_hw: tuple[int, int], output_name: str = "logits") -> Path:
    """Export `model` (eval mode, batch 1, 1 channel) to ONNX; batch norm is folded by the exporter."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    x = torch.zeros(1, 1, *input_hw)
    torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17, input_names=["input"],
                      output_names=[output_name], do_constant_folding=True)
    return path


def write_manifest(directory: Path, name: str, version: str, input_hw: tuple[int, int],
                   class_names: tuple[str, ...], preprocessing: dict[str, Any], extra: dict[str, Any]) -> Path:
    """manifest.json for a class-logits model in `directory` (model.onnx must already be there)."""
    model_file = directory / "model.onnx"
    raw: dict[str, Any] = {
        "format": MANIFEST_FORMAT, "name": name, "version": version, "task": "planes",
        "model_file": "model.onnx", "files": {"model.onnx": file_entry(model_file)},
        "precision": "fp32", "opset": 17,
        "input": {"name": "input", "shape": [1, 1, *input_hw], "dtype": "float32"},
        "output": {"name": "logits", "kind": "class_logits", "class_names": list(class_names)},
        "preprocessing": preprocessing, "calibration": None,
    }
    raw.update(extra)
    out = directory / "manifest.json"
    out.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    return out
