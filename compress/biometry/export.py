"""Export a head-seg checkpoint to an ONNX model bundle (model.onnx + manifest.json) the device can load.

1. ONNX with the legacy exporter, opset 17, static input shape (1, 1, H, W) from the preprocessing contract.
2. onnxruntime output compared with PyTorch on real frames (max |logit difference| must be <= `tol`).
3. manifest.json: sha256 + size, input spec, preprocessing contract, training data + split, metrics.
"""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from compress.biometry.dataset import default_spec
from compress.biometry.train import checkpoint_contract, checkpoint_spec, load_checkpoint
from compress.data.hc18 import SPLIT_SALT, TEST_BUCKETS, VAL_BUCKETS
from compress.paths import REPO_ROOT
from edge.manifest import MANIFEST_FORMAT, MANIFEST_NAME, PreprocessSpec, file_entry, sha256_of
from edge.preprocess import preprocess

ONNX_TOLERANCE = 1e-3  # max |logit| difference onnxruntime vs PyTorch (fp32)


@dataclass(frozen=True)
class ExportResult:
    onnx_path: Path
    max_abs_diff: float
    manifest_path: Path


def export_onnx(model: torch.nn.Module, path: Path, height: int, width: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    torch.onnx.export(model, (torch.zeros(1, 1, height, width),), str(path), dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["logits"], do_constant_folding=True)
    return path


def max_onnx_diff(model: torch.nn.Module, onnx_path: Path, frames: list[np.ndarray],
                  spec: PreprocessSpec | None = None) -> float:
    """Largest |logit| difference between onnxruntime and PyTorch over `frames` (preprocessed by `spec`, default
    the 160x240 contract)."""
    import onnxruntime as ort

    spec = spec or default_spec()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for frame in frames:
        x = preprocess(frame, spec).tensor
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy()
        got = sess.run(None, {"input": x})[0]
        worst = max(worst, float(np.abs(ref - got).max()))
    return worst


def calibrate_threshold(predict_fn: Callable[[np.ndarray], np.ndarray], records: list,
                        candidates: tuple[float, ...] = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)) -> tuple[float, dict]:
    """Pick the probability threshold with the lowest HC mean absolute error on `records` (val subjects only).

    Returns (threshold, {threshold: hc_mae_mm}); the threshold ships as manifest postprocessing.logit_offset.
    """
    from edge.biometry.measure import GateSettings, measure_head

    probs = [(r, predict_fn(r.image())) for r in records]
    maes = {}
    for t in candidates:
        errs = []
        for r, p in probs:
            res = measure_head(p, r.pixel_mm, None, GateSettings(threshold=t))
            if res.status == "measured":
                errs.append(abs(res.hc.value - r.hc_mm))
        maes[t] = float(np.mean(errs)) if len(errs) >= 0.95 * len(records) else float("inf")
    best = min(maes, key=maes.get)
    return best, maes


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_manifest(bundle: Path, checkpoint: Path, metrics: dict[str, Any], version: str = "1.0.0",
                   threshold: float = 0.5, threshold_note: str = "default") -> Path:
    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    contract = checkpoint_contract(ck)
    height, width = contract["size"]
    manifest = {
        "format": MANIFEST_FORMAT, "name": "head-seg", "version": version, "task": "biometry",
        "model_file": "model.onnx", "files": {"model.onnx": file_entry(bundle / "model.onnx")},
        "precision": "fp32", "opset": 17,
        "input": {"name": "input", "shape": [1, 1, height, width], "dtype": "float32"},
        "output": {"name": "logits", "kind": "segmentation_logits", "class_names": ["head"]},
        "preprocessing": contract,
        "postprocessing": {"logit_offset": round(-math.log(threshold / (1 - threshold)), 6),
                           "threshold": threshold, "threshold_chosen_by": threshold_note},
        "calibration": None,
        "provenance": {
            "training_data": "HC18 (van den Heuvel et al. 2018, Zenodo 10.5281/zenodo.1327317, CC BY 4.0), "
                             "outline annotations filled as ellipses",
            "split": f"subjects by sha256('{SPLIT_SALT}:<subject>') % 100: <{TEST_BUCKETS} test, "
                     f"<{TEST_BUCKETS + VAL_BUCKETS} val, else train (compress.data.hc18.split_of)",
            "source_checkpoint": f"{checkpoint.name} sha256 {sha256_of(checkpoint)[:16]} "
                                 f"(epoch {ck['epoch']}, val Dice {ck['val_dice']:.4f}, width_mult {ck['width_mult']})",
            "architecture": ck.get("arch", "ds-seg"),
            "git_commit": _git_commit(),
        },
        "metrics": metrics,
    }
    path = bundle / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return path


def export_bundle(checkpoint: Path, bundle: Path, frames: list[np.ndarray], metrics: dict[str, Any] | None = None,
                  tol: float = ONNX_TOLERANCE, threshold: float = 0.5, threshold_note: str = "default") -> ExportResult:
    """Checkpoint -> bundle/model.onnx + manifest.json, refusing an export that does not match PyTorch."""
    model = load_checkpoint(checkpoint)
    spec = checkpoint_spec(checkpoint)
    onnx_path = export_onnx(model, bundle / "model.onnx", spec.height, spec.width)
    diff = max_onnx_diff(model, onnx_path, frames, spec)
    if diff > tol:
        raise RuntimeError(f"onnxruntime differs from PyTorch by {diff:.2e} > {tol:.0e} logits; not shipping")
    return ExportResult(onnx_path, diff, write_manifest(bundle, checkpoint, metrics or {}, threshold=threshold,
                                                      threshold_note=threshold_note))
