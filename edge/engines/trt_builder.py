"""The only code that calls TensorRT to build engines (and pycuda to ask about the GPU). Imported lazily.

Written against the TensorRT 8.5, 8.6 and 10.x Python API (JetPack 5.1, 6.0, 6.1/6.2). Untestable here (no
TensorRT, no GPU): kept small; all decisions around it (precision, key, cache, fallback, stale detection) live
in pure modules with their own tests, and tests/test_trt_calls.py drives these calls through a stand-in
`tensorrt` module that records them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from edge.engines import jetson
from edge.engines.device import DeviceInfo, check_trt_version, parse_compute_capability
from edge.engines.plan import BuildSpec
from edge.errors import BackendError

log = logging.getLogger(__name__)


def _trt() -> Any:
    try:
        import tensorrt as trt
    except ImportError:
        raise BackendError("TensorRT is not installed; engines are built on the Jetson (JetPack's "
                           "python3-libnvinfer); elsewhere use backend onnxruntime") from None
    return trt


def _cuda() -> Any:
    try:
        import pycuda.autoinit  # noqa: F401  (creates the CUDA context)
        import pycuda.driver as cuda
    except ImportError:
        raise BackendError("pycuda is not installed; on a Jetson: pip install pycuda with CUDA_ROOT=/usr/local/cuda "
                           "(docs/device.md)") from None
    return cuda


def _version(driver: int) -> str:
    """CUDA driver version 12060 -> '12.6'."""
    return f"{driver // 1000}.{driver % 1000 // 10}" if driver > 0 else jetson.UNKNOWN


def probe_device() -> DeviceInfo:
    """GPU name, compute capability, SM count, DLA cores, TensorRT / CUDA / L4T release and board of this machine.
    DLA cores come from trt.Runtime (IRuntime::getNbDLACores), not from a Builder: no builder in the exam process."""
    trt = _trt()
    cuda = _cuda()
    dev = cuda.Device(0)
    version = check_trt_version(trt.__version__)
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    info = DeviceInfo(dev.name(), parse_compute_capability(dev.compute_capability()), trt.__version__,
                      int(runtime.num_DLA_cores), int(dev.get_attribute(cuda.device_attribute.MULTIPROCESSOR_COUNT)),
                      jetson.board_model(), jetson.l4t_release(), _version(int(cuda.get_driver_version())))
    log.info("TensorRT %s on %s (SM %s, %d SMs, %d DLA cores), %s, L4T %s, CUDA %s", ".".join(map(str, version)),
             info.gpu_name, info.cc_text, info.sm_count, info.dla_cores, info.board, info.l4t, info.cuda)
    return info


def build_engine(spec: BuildSpec) -> bytes:
    """Parse the ONNX and build a serialized engine as `spec` says; BackendError with TensorRT's reason."""
    trt = _trt()
    try:
        return _build(trt, spec)
    except (RuntimeError, TypeError, ValueError, AttributeError) as exc:  # the bindings raise these untyped
        raise BackendError(f"TensorRT {trt.__version__} raised {type(exc).__name__} building {spec.onnx_path.name} "
                           f"({spec.precision}): {exc}") from None


def _build(trt: Any, spec: BuildSpec) -> bytes:
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    major = int(trt.__version__.split(".")[0])
    flags = 0 if major >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(spec.onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f"TensorRT {trt.__version__} cannot parse {spec.onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, spec.workspace_bytes)  # >= 8.4
    if spec.precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    elif spec.precision == "int8":  # explicit quantization: scales come from the QDQ nodes, no calibrator
        config.set_flag(trt.BuilderFlag.INT8)
        config.set_flag(trt.BuilderFlag.FP16)  # layers left in float may run in FP16
    if spec.dla_core is not None:
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = spec.dla_core
        if spec.gpu_fallback:
            config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    if spec.optimization_level is not None and hasattr(config, "builder_optimization_level"):  # >= 8.6
        config.builder_optimization_level = spec.optimization_level
    cache = _timing_cache(config, spec.timing_cache)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(f"TensorRT {trt.__version__} failed to build a {spec.precision} engine from "
                           f"{spec.onnx_path.name}; see the TensorRT log above")
    if cache is not None and spec.timing_cache is not None:
        spec.timing_cache.parent.mkdir(parents=True, exist_ok=True)
        spec.timing_cache.write_bytes(memoryview(config.get_timing_cache().serialize()))
    return bytes(memoryview(serialized))


def _timing_cache(config: Any, path: Path | None) -> Any:
    """Load the timing cache (keyed by TensorRT version and GPU in its file name); set_timing_cache returns
    False for a cache it cannot use, which then starts empty instead of being silently ignored."""
    if path is None:
        return None
    blob = path.read_bytes() if path.is_file() else b""
    cache = config.create_timing_cache(blob)
    if config.set_timing_cache(cache, False):
        return cache
    log.warning("TensorRT refused the timing cache %s (other TensorRT build or GPU); starting an empty one", path)
    cache = config.create_timing_cache(b"")
    if not config.set_timing_cache(cache, False):
        raise BackendError(f"TensorRT refused even an empty timing cache; remove engines.timing_cache ({path}) "
                           "from the config")
    return cache
