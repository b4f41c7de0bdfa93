"""onnxruntime backend: the embedded default (CPU), with CUDA / TensorRT execution providers when present.

The GPU providers get their options (onnxruntime docs, TensorRT and CUDA execution providers): TensorRT caches
its engines and timing cache on disk (else every exam start rebuilds the engine, minutes on a Jetson) and is
told the precision of the graph (INT8 for the QDQ graph, FP16 allowed for the rest); CUDA uses cuDNN's default
convolution algorithms (no exhaustive search at every start) and grows its memory arena only as needed (the
Jetson's GPU shares memory with the CPU).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.backends.base import Backend
from edge.backends.registry import BACKENDS
from edge.errors import BackendError, InputError, ModelError
from edge.manifest import Manifest

PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


DEFAULT_CACHE = "/var/lib/fetal-edge/engines/onnxruntime"


def provider_options(device: str, manifest: Manifest, cache_dir: str | Path | None = None) -> list[tuple[str, dict]]:
    """(provider, options) for each provider of `device`, best first."""
    cuda = {"device_id": 0, "cudnn_conv_algo_search": "DEFAULT", "arena_extend_strategy": "kSameAsRequested"}
    cache = str(Path(cache_dir or DEFAULT_CACHE) / manifest.name)
    trt = {"device_id": 0, "trt_engine_cache_enable": True, "trt_engine_cache_path": cache,
           "trt_timing_cache_enable": True, "trt_timing_cache_path": cache,
           "trt_fp16_enable": True, "trt_int8_enable": manifest.precision == "int8"}
    options = {"TensorrtExecutionProvider": trt, "CUDAExecutionProvider": cuda, "CPUExecutionProvider": {}}
    return [(p, options[p]) for p in PROVIDERS[device]]


@BACKENDS.register("onnxruntime")
class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def __init__(self, manifest: Manifest, threads: int = 2, device: str = "cpu", cache_dir: str | None = None) -> None:
        super().__init__(manifest)
        import onnxruntime as ort

        if device not in PROVIDERS:
            raise BackendError(f"onnxruntime device {device!r} is not one of {sorted(PROVIDERS)}")
        available = set(ort.get_available_providers())
        wanted = PROVIDERS[device]
        if wanted[0] not in available:
            raise BackendError(
                f"onnxruntime has no {wanted[0]} here (available: {sorted(available)}); "
                "use device 'cpu' or install onnxruntime-gpu from JetPack"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        chosen = [(p, o) for p, o in provider_options(device, manifest, cache_dir) if p in available]
        if device == "tensorrt":
            Path(chosen[0][1]["trt_engine_cache_path"]).mkdir(parents=True, exist_ok=True)
        try:
            self.session = ort.InferenceSession(str(manifest.model_path), sess_options=opts,
                                                providers=[p for p, _ in chosen], provider_options=[o for _, o in chosen])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ModelError(f"onnxruntime cannot load {manifest.model_path}: {exc}") from None
        self.providers = self.session.get_providers()
        self._input = self.session.get_inputs()[0].name
        self._outputs = [o.name for o in self.session.get_outputs()]

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        if x.dtype != np.float32:
            x = x.astype(np.float32)
        if tuple(x.shape[1:]) != tuple(self.manifest.input_shape[1:]):
            raise InputError(f"input shape {x.shape} does not match the model's {self.manifest.input_shape}")
        values = self.session.run(None, {self._input: x})
        return dict(zip(self._outputs, values))

    def describe(self) -> str:
        return f"onnxruntime ({', '.join(self.providers)})"
