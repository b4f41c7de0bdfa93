"""onnxruntime backend: the embedded default (CPU), with CUDA / TensorRT execution providers when present."""

from __future__ import annotations

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


@BACKENDS.register("onnxruntime")
class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def __init__(self, manifest: Manifest, threads: int = 2, device: str = "cpu") -> None:
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
        try:
            self.session = ort.InferenceSession(
                str(manifest.model_path), sess_options=opts, providers=[p for p in wanted if p in available]
            )
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
