"""The only code that calls TensorRT to build engines (and pycuda to ask about the GPU). Imported lazily.

Written against the TensorRT 8.6 and 10.x Python API (8.2 on JetPack 4.6 works through the same
calls where noted). Untestable here (no TensorRT, no GPU): kept small; all decisions around it (precision,
key, cache, stale detection) live in pure modules with their own tests.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

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


def probe_device() -> DeviceInfo:
    """GPU name, compute capability, DLA cores and the TensorRT version of this machine."""
    trt = _trt()
    try:
        import pycuda.autoinit  # noqa: F401  (creates the CUDA context)
        import pycuda.driver as cuda
    except ImportError:
        raise BackendError("pycuda is not installed; on a Jetson: pip install pycuda (built against JetPack CUDA)") from None
    dev = cuda.Device(0)
    builder = trt.Builder(trt.Logger(trt.Logger.WARNING))
    version = check_trt_version(trt.__version__)
    info = DeviceInfo(dev.name(), parse_compute_capability(dev.compute_capability()), trt.__version__,
                      int(getattr(builder, "num_DLA_cores", 0)))
    log.info("TensorRT %s on %s (SM %s, %d DLA cores)", ".".join(map(str, version)), info.gpu_name, info.cc_text,
             info.dla_cores)
    return info


def build_engine(spec: BuildSpec) -> bytes:
    """Parse the ONNX and build a serialized engine as `spec` says."""
    trt = _trt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    major = int(trt.__version__.split(".")[0])
    flags = 0 if major >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(spec.onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f"TensorRT cannot parse {spec.onnx_path}: {errors}")
    config = builder.create_builder_config()
    if hasattr(config, "set_memory_pool_limit"):  # >= 8.4
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, spec.workspace_bytes)
    else:  # 8.2
        config.max_workspace_size = spec.workspace_bytes
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
    if spec.optimization_level is not None and hasattr(config, "builder_optimization_level"):
        config.builder_optimization_level = spec.optimization_level
    cache = _timing_cache(config, spec.timing_cache)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(f"TensorRT failed to build an engine for {spec.onnx_path} ({spec.precision}); "
                           "see the TensorRT log above")
    if cache is not None and spec.timing_cache is not None:
        spec.timing_cache.parent.mkdir(parents=True, exist_ok=True)
        spec.timing_cache.write_bytes(memoryview(config.get_timing_cache().serialize()))
    return bytes(memoryview(serialized))


def _timing_cache(config: Any, path: Path | None) -> Any:
    if path is None:
        return None
    blob = path.read_bytes() if path.is_file() else b""
    cache = config.create_timing_cache(blob)
    config.set_timing_cache(cache, ignore_mismatch=False)
    return cache
