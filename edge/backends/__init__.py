"""Inference backends behind one interface. `create_backend` is the entry point.

TensorRT and pycuda are imported lazily inside their backend module, so that a device without
JetPack (a laptop, CI) never needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

from edge.backends.base import Backend
from edge.backends.registry import BACKENDS
from edge.manifest import Manifest

# module that registers each backend; imported on first use only
_MODULES = {"onnxruntime": "edge.backends.onnxruntime_backend", "tensorrt": "edge.backends.tensorrt_backend"}


def create_backend(manifest: Manifest, name: str = "onnxruntime", **options: Any) -> Backend:
    module = _MODULES.get(name)
    if module is not None and name not in BACKENDS:
        importlib.import_module(module)
    return BACKENDS.get(name)(manifest, **options)


__all__ = ["Backend", "BACKENDS", "create_backend"]
