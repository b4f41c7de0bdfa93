"""The one manifest writer: every bundle's manifest.json (edge/manifest.py format) is made here.

`manifest_dict` assembles the fields the runtime reads, with the sha256 and size of every file in the bundle
directory; `write_manifest` writes it and reads it back through the runtime's own loader (checksums verified),
so a bundle whose manifest the device could not read is never written.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from edge.manifest import MANIFEST_FORMAT, MANIFEST_NAME, Manifest, file_entry, load_manifest

INPUT_NAME, OUTPUT_NAME = "input", "logits"  # what compress.stages.export.export_onnx names them


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def manifest_dict(directory: Path, *, name: str, version: str, task: str, model_file: str, precision: str,
                  input_shape: tuple[int, ...], output_kind: str, class_names: tuple[str, ...] | list[str],
                  preprocessing: dict[str, Any], provenance: dict[str, Any], metrics: dict[str, Any],
                  variants: dict[str, str] | None = None, opset: int = 17, calibration: dict[str, Any] | None = None,
                  **extra: Any) -> dict[str, Any]:
    """The manifest of the bundle in `directory`; `files` lists every file there (manifest.json excepted).
    `extra`: task-specific keys the runtime reads (postprocessing, calibration_params, compression_report)."""
    files = {p.name: file_entry(p) for p in sorted(Path(directory).iterdir())
             if p.is_file() and p.name != MANIFEST_NAME}
    out: dict[str, Any] = {
        "format": MANIFEST_FORMAT, "name": name, "version": version, "task": task, "model_file": model_file,
        "files": files, "precision": precision, "opset": opset,
        "input": {"name": INPUT_NAME, "shape": list(input_shape), "dtype": "float32"},
        "output": {"name": OUTPUT_NAME, "kind": output_kind, "class_names": list(class_names)},
        "preprocessing": preprocessing, "calibration": calibration, "provenance": provenance, "metrics": metrics,
    }
    if variants:
        out["variants"] = dict(variants)
    out.update(extra)
    return out


def write_manifest(directory: Path, manifest: dict[str, Any]) -> Manifest:
    """Write `directory`/manifest.json and load it back as the runtime will (every checksum verified)."""
    path = Path(directory) / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return load_manifest(directory, verify=True)
