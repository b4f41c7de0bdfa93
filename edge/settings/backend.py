"""`backend:` section: which inference backend runs the models, on what, at which precision.

precision, with onnxruntime, picks the graph of each model bundle (manifest `variants`): fp32 = the float
graph (model_fp32.onnx in the shipped bundles), int8 = the INT8 QDQ graph (their model.onnx). The default is
fp32: onnxruntime on x86 CPUs runs the float graph faster than the QDQ one (head-seg 5.0 vs 8.6 ms, plane-cls
0.75 vs 0.96 ms per frame on the 2-core dev CPU, one thread; docs/device.md); int8 is for onnxruntime's
TensorRT provider, or a CPU where it measures faster. With backend.name tensorrt the engine precision
comes from the `engines` section instead (INT8 engines from the QDQ graph, FP16/FP32 from the float graph);
backend.precision is then only checked against device.fp16_only.
"""

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
    precision: str = "fp32"     # onnxruntime: which graph of each bundle (fp32 | int8), see above
    threads: int = 1            # intra-op threads per model (the capture thread needs a core too)
    warmup: int = 3             # warm-up runs per model before the first frame

    @property
    def variant(self) -> str | None:
        """The bundle variant onnxruntime loads (edge.models.load_model); None with TensorRT, whose graph
        follows the `engines` precision."""
        return self.precision if self.name == "onnxruntime" else None

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
