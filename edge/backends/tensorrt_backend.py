"""TensorRT backend: runs the engine `fetal-edge build-engines` built for this model on this GPU.

The engine is looked up by its cache key and checked (sidecar + sha256) before it is deserialized: a stale
or foreign engine is refused with a message saying to rebuild, never loaded. TensorRT and pycuda are
imported here, lazily, only when this backend is created. Handles the 8.x bindings API and the 10.x
named-tensor API.
"""

from __future__ import annotations

import numpy as np

from edge.backends.base import Backend
from edge.backends.registry import BACKENDS
from edge.engines.cache import check_engine
from edge.engines.plan import engine_for
from edge.errors import BackendError, InputError
from edge.manifest import Manifest
from edge.settings.engines import EnginesSettings


@BACKENDS.register("tensorrt")
class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, manifest: Manifest, engines: EnginesSettings | None = None, **_: object) -> None:
        super().__init__(manifest)
        from edge.engines.trt_builder import _trt, probe_device

        trt = _trt()
        import pycuda.driver as cuda

        self.cuda = cuda
        spec = engine_for(manifest, engines or EnginesSettings(), probe_device())
        problem = check_engine(spec.engine_path, spec.key)
        if problem is not None:
            raise BackendError(f"no valid TensorRT engine for {manifest.name} ({problem}); run "
                               "`fetal-edge build-engines --config <firmware config>` on this device")
        self.precision = spec.precision
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(spec.engine_path.read_bytes())
        if self.engine is None:
            raise BackendError(f"TensorRT could not deserialize {spec.engine_path}; rebuild it with build-engines")
        self.context = self.engine.create_execution_context()
        self.stream = cuda.Stream()
        self.v10 = hasattr(self.engine, "num_io_tensors")
        names = ([self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)] if self.v10 else
                 [self.engine.get_binding_name(i) for i in range(self.engine.num_bindings)])
        self.buffers: dict[str, tuple[np.ndarray, object]] = {}
        self.inputs, self.outputs = [], []
        for n in names:
            shape = tuple(self.engine.get_tensor_shape(n) if self.v10 else self.engine.get_binding_shape(n))
            dtype = trt.nptype(self.engine.get_tensor_dtype(n) if self.v10 else self.engine.get_binding_dtype(n))
            host = cuda.pagelocked_empty(shape, dtype)
            self.buffers[n] = (host, cuda.mem_alloc(host.nbytes))
            is_input = (self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT) if self.v10 else \
                self.engine.binding_is_input(n)
            (self.inputs if is_input else self.outputs).append(n)
            if self.v10:
                self.context.set_tensor_address(n, int(self.buffers[n][1]))

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        host, dev = self.buffers[self.inputs[0]]
        if tuple(x.shape) != tuple(host.shape):
            raise InputError(f"input shape {x.shape} does not match the engine's {host.shape}")
        np.copyto(host, x.astype(host.dtype, copy=False))
        self.cuda.memcpy_htod_async(dev, host, self.stream)
        if self.v10:
            self.context.execute_async_v3(self.stream.handle)
        else:
            self.context.execute_async_v2([int(self.buffers[n][1]) for n in self.inputs + self.outputs],
                                          self.stream.handle)
        for n in self.outputs:
            self.cuda.memcpy_dtoh_async(self.buffers[n][0], self.buffers[n][1], self.stream)
        self.stream.synchronize()
        return {n: self.buffers[n][0].copy() for n in self.outputs}

    def describe(self) -> str:
        return f"tensorrt ({self.precision})"
