"""A stand-in for the `tensorrt` and `pycuda` modules, for tests only.

TensorRT and pycuda cannot be installed on this machine (no Jetson, no NVIDIA GPU), so the code that calls them
(edge/engines/trt_builder.py, edge/backends/tensorrt_backend.py) is driven through this stand-in. It implements
only the calls our code makes, with the signatures and return values of the TensorRT 8.5/8.6/10.x Python API
docs (IExecutionContext.execute_async_v3 -> bool, IBuilderConfig.set_timing_cache -> bool, IRuntime
num_DLA_cores, ...), and records what was called. It checks how we use the API, not TensorRT itself; the
real calls run only on a Jetson (`scripts/jetson-smoke.sh`, tests marked `tensorrt`).
"""

from __future__ import annotations

import enum
import itertools
import sys
import types
from typing import Any

import numpy as np


class DataType(enum.Enum):
    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3
    BOOL = 4


class TensorIOMode(enum.Enum):
    NONE = 0
    INPUT = 1
    OUTPUT = 2


def nptype(dtype: DataType) -> type:
    """As trt.nptype of TensorRT 8.2/8.5 under numpy 1.24-1.26 (the numpy < 2 the Jetson images pin): its table
    names np.bool, removed in numpy 1.24 (NVIDIA/TensorRT#2557, #2701), so every call raises."""
    raise AttributeError("module 'numpy' has no attribute 'bool'")


class Logger:
    WARNING = 2

    def __init__(self, severity: int = 2) -> None:
        self.severity = severity


class State:
    """What the stand-in was asked to do, and how it should answer."""

    def __init__(self) -> None:
        self.builders = 0
        self.enqueue_ok = True
        self.timing_cache_ok = [True]
        self.parse_errors: list[str] = []
        self.io = {"input": ((1, 1, 4, 4), TensorIOMode.INPUT), "logits": ((1, 1, 4, 4), TensorIOMode.OUTPUT)}
        self.flags: list[str] = []
        self.pool_limit: int | None = None
        self.runtime_dla_core: int | None = None


STATE = State()


class Runtime:
    num_DLA_cores = 2

    def __init__(self, logger: Logger) -> None:
        self.DLA_core = -1

    def deserialize_cuda_engine(self, blob: bytes) -> "Engine":
        STATE.runtime_dla_core = self.DLA_core
        return Engine(blob)


class Engine:
    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.names = list(STATE.io)
        self.num_io_tensors = len(self.names)

    def get_tensor_name(self, i: int) -> str:
        return self.names[i]

    def get_tensor_shape(self, name: str) -> tuple:
        return STATE.io[name][0]

    def get_tensor_dtype(self, name: str) -> DataType:
        return DataType.FLOAT

    def get_tensor_mode(self, name: str) -> TensorIOMode:
        return STATE.io[name][1]

    def create_execution_context(self) -> "Context":
        return Context()


class Context:
    """'Runs' the engine as output = input * 2, in the stand-in device memory."""

    def __init__(self) -> None:
        self.addresses: dict[str, int] = {}

    def set_tensor_address(self, name: str, address: int) -> bool:
        self.addresses[name] = address
        return True

    def execute_async_v3(self, stream_handle: int) -> bool:
        if not STATE.enqueue_ok:
            return False
        inputs = [n for n, (_, mode) in STATE.io.items() if mode == TensorIOMode.INPUT]
        for name, (_, mode) in STATE.io.items():
            if mode == TensorIOMode.OUTPUT:
                DEVICE[self.addresses[name]] = DEVICE[self.addresses[inputs[0]]] * 2
        return True


class MemoryPoolType(enum.Enum):
    WORKSPACE = 0


class BuilderFlag(enum.Enum):
    FP16 = 0
    INT8 = 1
    GPU_FALLBACK = 2


class DeviceType(enum.Enum):
    GPU = 0
    DLA = 1


class NetworkDefinitionCreationFlag(enum.IntEnum):
    EXPLICIT_BATCH = 0


class TimingCache:
    def __init__(self, blob: bytes) -> None:
        self.blob = blob or b"timing"

    def serialize(self) -> bytes:
        return self.blob


class BuilderConfig:
    def __init__(self) -> None:
        self.cache: TimingCache | None = None

    def set_memory_pool_limit(self, pool: MemoryPoolType, size: int) -> None:
        STATE.pool_limit = size

    def set_flag(self, flag: BuilderFlag) -> None:
        STATE.flags.append(flag.name)

    def create_timing_cache(self, blob: bytes) -> TimingCache:
        return TimingCache(blob)

    def set_timing_cache(self, cache: TimingCache, ignore_mismatch: bool) -> bool:
        ok = STATE.timing_cache_ok.pop(0) if len(STATE.timing_cache_ok) > 1 else STATE.timing_cache_ok[0]
        if ok:
            self.cache = cache
        return ok

    def get_timing_cache(self) -> TimingCache:
        return self.cache


class OnnxParser:
    def __init__(self, network: object, logger: Logger) -> None:
        self.num_errors = 0

    def parse(self, data: bytes) -> bool:
        self.num_errors = len(STATE.parse_errors)
        return not STATE.parse_errors

    def get_error(self, i: int) -> str:
        return STATE.parse_errors[i]


class Builder:
    def __init__(self, logger: Logger) -> None:
        STATE.builders += 1

    def create_network(self, flags: int) -> object:
        return object()

    def create_builder_config(self) -> BuilderConfig:
        return BuilderConfig()

    def build_serialized_network(self, network: object, config: BuilderConfig) -> bytes:
        return b"serialized engine"


# ---- pycuda.driver stand-in: host <-> "device" copies through a dict of arrays ----
DEVICE: dict[int, np.ndarray] = {}
_addresses = itertools.count(4096, 4096)


class DevicePtr:
    def __init__(self, nbytes: int) -> None:
        self.address = next(_addresses)

    def __int__(self) -> int:
        return self.address


class Device:
    def __init__(self, ordinal: int) -> None:
        pass

    def name(self) -> str:
        return "Orin"

    def compute_capability(self) -> tuple:
        return (8, 7)

    def get_attribute(self, attribute: Any) -> int:
        return 8


class Stream:
    handle = 1

    def synchronize(self) -> None:
        pass


def _memcpy_htod(dev: DevicePtr, host: np.ndarray, stream: Stream) -> None:
    DEVICE[int(dev)] = host.copy()


def _memcpy_dtoh(host: np.ndarray, dev: DevicePtr, stream: Stream) -> None:
    if int(dev) in DEVICE:
        np.copyto(host, DEVICE[int(dev)])


def install(monkeypatch: Any, version: str = "8.6.2") -> State:
    """Put the stand-ins into sys.modules as `tensorrt`, `pycuda`, `pycuda.driver`, `pycuda.autoinit`."""
    global STATE
    STATE = State()
    DEVICE.clear()
    trt = types.ModuleType("tensorrt")
    for name in ("DataType", "TensorIOMode", "nptype", "Logger", "Runtime", "MemoryPoolType", "BuilderFlag",
                 "DeviceType", "NetworkDefinitionCreationFlag", "OnnxParser", "Builder"):
        setattr(trt, name, getattr(sys.modules[__name__], name))
    trt.__version__ = version
    driver = types.ModuleType("pycuda.driver")
    driver.Device, driver.Stream, driver.mem_alloc = Device, Stream, DevicePtr
    driver.pagelocked_empty = lambda shape, dtype: np.zeros(shape, dtype)
    driver.memcpy_htod_async, driver.memcpy_dtoh_async = _memcpy_htod, _memcpy_dtoh
    driver.device_attribute = types.SimpleNamespace(MULTIPROCESSOR_COUNT="MULTIPROCESSOR_COUNT")
    driver.get_driver_version = lambda: 12020
    pycuda = types.ModuleType("pycuda")
    pycuda.driver = driver
    for name, module in (("tensorrt", trt), ("pycuda", pycuda), ("pycuda.driver", driver),
                         ("pycuda.autoinit", types.ModuleType("pycuda.autoinit"))):
        monkeypatch.setitem(sys.modules, name, module)
    return STATE
