"""Shipped models: each lives in `edge/models/<name>/` as model file + manifest.json + MODEL_CARD.md."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.backends import Backend, create_backend
from edge.engines.cache import NoEngineError
from edge.errors import ModelError
from edge.manifest import Manifest, load_manifest
from edge.preprocess import ModelInput, preprocess

MODELS_DIR = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


def shipped_model_dir(name: str) -> Path:
    d = MODELS_DIR / name
    if not (d / "manifest.json").is_file():
        have = sorted(p.name for p in MODELS_DIR.iterdir() if (p / "manifest.json").is_file())
        raise ModelError(f"no shipped model {name!r}; shipped: {', '.join(have) or '(none)'}")
    return d


def resolve_model_dir(name_or_dir: str | Path) -> Path:
    p = Path(name_or_dir)
    if (p / "manifest.json").is_file():
        return p
    return shipped_model_dir(str(name_or_dir))


@dataclass
class LoadedModel:
    """A verified manifest plus a backend: preprocess + run in one call."""

    manifest: Manifest
    backend: Backend

    def prepare(self, frame: np.ndarray) -> ModelInput:
        return preprocess(frame, self.manifest.preprocessing)

    def infer(self, frame: np.ndarray) -> tuple[np.ndarray, ModelInput]:
        """Returns the model's primary output for one frame (batch dim removed) and its input geometry."""
        mi = self.prepare(frame)
        out = self.backend.run(mi.tensor)
        return out[self.manifest.output_name][0], mi


def load_model(name_or_dir: str | Path, backend: str = "onnxruntime", precision: str | None = None,
               **options: Any) -> LoadedModel:
    """Load a shipped model by name (or a bundle directory), every file checked against its sha256 first.

    `precision` picks a graph from the manifest's `variants` (e.g. "fp32" -> model_fp32.onnx, "int8" ->
    model.onnx); None runs the bundle's model_file. The returned manifest (hence every ModelRef made from
    it) names the graph that runs; a bundle without that variant is a ModelError naming the ones it has."""
    manifest = load_manifest(resolve_model_dir(name_or_dir), verify=True).variant(precision)
    try:
        runner = create_backend(manifest, backend, **options)
    except NoEngineError as exc:  # TensorRT without an engine for this model: run, slower, rather than stop
        log.warning("%s; running %s on onnxruntime (CPU, float graph) until an engine is built", exc, manifest.name)
        runner = create_backend(manifest.variant("auto"), "onnxruntime")
    # the backend's manifest names the graph that runs (a TensorRT FP16 fallback engine: the float graph)
    return LoadedModel(runner.manifest, runner)
