"""TensorRT backend: runs the engine `fetal-edge build-engines` built for this model on this GPU.

The engines of the model's plan (INT8, then its FP16 fallback) are looked up by their cache keys and checked
(sidecar + sha256) before one is deserialized: a stale or foreign engine is never loaded. The backend's
manifest names the graph the engine was built from (model_fp32.onnx for the FP16 fallback), so every result
carries the sha256 of what actually ran. TensorRT and pycuda are imported here, lazily, only when this backend
is created. Uses the named-tensor API of TensorRT 8.5+ (execute_async_v3), whose result is checked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge.backends.base import Backend
from edge.backends.registry import BACKENDS
from edge.engines.cache import NoEngineError, check_engine
from edge.engines.plan import engine_plan
from edge.errors import BackendError, InputError
from edge.manifest import Manifest
from edge.settings.engines import EnginesSettings

# TensorRT DataType name -> numpy dtype. Not trt.nptype: on TensorRT 8.2/8.5 it builds its table with np.bool,
# which numpy >= 1.24 removed (NVIDIA/TensorRT#2557, fixed in 8.6), so every call raises AttributeError there.
DTYPES = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32, "BOOL": np.bool_,
          "UINT8": np.uint8, "INT64": np.int64}


def numpy_dtype(trt: Any, dtype: Any) -> type:
    for name, np_type in DTYPES.items():
        if hasattr(trt.DataType, name) and dtype == getattr(trt.DataType, name):
            return np_type
    raise BackendError(f"engine tensor type {dtype} has no numpy equivalent here; rebuild the engine from the "
                       "shipped bundle (its inputs and outputs are float32)")


@BACKENDS.register("tensorrt")
class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, manifest: Manifest, engines: EnginesSettings | None = None, **_: object) -> None:
        super().__init__(manifest)
        from edge.engines.trt_builder import _cuda, _trt, probe_device

        trt, self.cuda = _trt(), _cuda()
        plan = engine_plan(manifest, engines or EnginesSettings(), probe_device())
        problems = {s.precision: check_engine(s.engine_path, s.key) for s in plan}
        spec = next((s for s in plan if problems[s.precision] is None), None)
        if spec is None:
            why = "; ".join(f"{p}: {reason}" for p, reason in problems.items())
            raise NoEngineError(f"no valid TensorRT engine for {manifest.name} ({why}); run "
                                "`fetal-edge build-engines --config <firmware config>` on this device")
        self.precision = spec.precision
        # results name the graph this engine was built from (the float graph for the FP16 fallback)
        self.manifest = manifest if spec.onnx_path.name == manifest.model_file else manifest.variant(spec.graph)
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        if spec.dla_core is not None:
            runtime.DLA_core = spec.dla_core
        self.engine = runtime.deserialize_cuda_engine(spec.engine_path.read_bytes())
        if self.engine is None:
            raise BackendError(f"TensorRT could not deserialize {spec.engine_path}; rebuild it with build-engines")
        self.context = self.engine.create_execution_context()
        self.stream = self.cuda.Stream()
        self.buffers: dict[str, tuple[np.ndarray, Any]] = {}
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        for i in range(self.engine.num_io_tensors):
            n = self.engine.get_tensor_name(i)
            host = self.cuda.pagelocked_empty(tuple(self.engine.get_tensor_shape(n)),
                                              numpy_dtype(trt, self.engine.get_tensor_dtype(n)))
            self.buffers[n] = (host, self.cuda.mem_alloc(host.nbytes))
            is_input = self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT
            (self.inputs if is_input else self.outputs).append(n)
            self.context.set_tensor_address(n, int(self.buffers[n][1]))

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        host, dev = self.buffers[self.inputs[0]]
        if tuple(x.shape) != tuple(host.shape):
            raise InputError(f"input shape {x.shape} does not match the engine's {host.shape}")
        np.copyto(host, x.astype(host.dtype, copy=False))
        self.cuda.memcpy_htod_async(dev, host, self.stream)
        if not self.context.execute_async_v3(self.stream.handle):
            # a failed enqueue leaves the output buffers holding the previous frame's results
            raise BackendError(f"TensorRT could not enqueue {self.manifest.name} ({self.precision} engine); "
                               "see the TensorRT log; rebuild the engine with build-engines if it persists")
        for n in self.outputs:
            self.cuda.memcpy_dtoh_async(self.buffers[n][0], self.buffers[n][1], self.stream)
        self.stream.synchronize()
        return {n: self.buffers[n][0].copy() for n in self.outputs}

    def describe(self) -> str:
        return f"tensorrt ({self.precision})"
