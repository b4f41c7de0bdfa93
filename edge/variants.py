"""One precision variant of a model bundle, loaded behind a backend: `load_variant(name_or_dir, backend,
precision, **options) -> LoadedModel`.

A compressed bundle ships its INT8 QDQ graph as model_file and its float graph under the manifest's
`variants` (e.g. {"int8": "model.onnx", "fp32": "model_fp32.onnx"}). This is `edge.models.load_model` with
the graph picked by precision (None: the bundle's model_file): every file of the bundle, the variant
included, is checked against its sha256 first, and the returned manifest (hence every `ModelRef` made from
it) names the graph that runs. A bundle without the variant is a ModelError naming the ones it has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.backends import create_backend
from edge.manifest import load_manifest
from edge.models import LoadedModel, resolve_model_dir


def load_variant(name_or_dir: str | Path, backend: str = "onnxruntime", precision: str | None = None,
                 **options: Any) -> LoadedModel:
    """Load the `precision` graph of a shipped model (by name) or a bundle directory, verified first."""
    manifest = load_manifest(resolve_model_dir(name_or_dir), verify=True).variant(precision)
    return LoadedModel(manifest, create_backend(manifest, backend, **options))
