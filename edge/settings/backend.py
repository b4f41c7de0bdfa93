"""`backend:` section: which inference backend runs the models, on what, at which precision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from edge.config import SECTIONS, check_keys, typed
from edge.errors import ConfigError

BACKEND_NAMES = ("onnxruntime", "tensorrt")
ORT_DEVICES = ("cpu", "cuda", "tensorrt")
PRECISIONS = ("fp32", "fp16", "int8")
_KEYS = {"name", "device", "precision", "threads", "warmup"}


@dataclass(frozen=True)
class BackendSettings:
    name: str = "onnxruntime"
    device: str = "cpu"         # onnxruntime execution provider family
    precision: str = "fp32"     # which model bundle: fp32 (shipped ONNX), int8 (quantised bundle), fp16 (TensorRT)
    threads: int = 1            # intra-op threads per model (the capture thread needs a core too)
    warmup: int = 3             # warm-up runs per model before the first frame

    def options(self) -> dict[str, Any]:
        """Keyword options for edge.backends.create_backend."""
        return {"threads": self.threads, "device": self.device} if self.name == "onnxruntime" else {}


@SECTIONS.register("backend")
def parse(d: Mapping[str, Any]) -> BackendSettings:
    d = check_keys(d, "backend", _KEYS)
    s = BackendSettings(
        name=typed(d, "backend", "name", str, "onnxruntime", choices=BACKEND_NAMES),
        device=typed(d, "backend", "device", str, "cpu", choices=ORT_DEVICES),
        precision=typed(d, "backend", "precision", str, "fp32", choices=PRECISIONS),
        threads=typed(d, "backend", "threads", int, 1, lo=1, hi=64),
        warmup=typed(d, "backend", "warmup", int, 3, lo=0, hi=1000),
    )
    if s.name == "onnxruntime" and s.precision == "fp16":
        raise ConfigError("backend.precision = 'fp16' conflicts with backend.name = 'onnxruntime': FP16 engines "
                          "are built by TensorRT; use precision fp32 or int8 with onnxruntime")
    return s
