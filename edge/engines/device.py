"""What the GPU and TensorRT can do: version parsing, compute capability rules, precision choice.

Pure logic (no TensorRT import): the facts come from `edge.engines.trt_builder.probe_device` on the Jetson
and from plain values in tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge.errors import BackendError

# JetPack 5.1.x ships TensorRT 8.5.2, JetPack 6.0 8.6.2, JetPack 6.1/6.2 10.3. JetPack 4.6 (8.2) is not supported:
# its Python 3.6 cannot run edge/ (docs/device.md).
MIN_TRT, MAX_TRT_MAJOR = (8, 5), 10
# SM versions with fast INT8 (DP4A / tensor cores) that TensorRT uses: Pascal desktop 6.1, Volta/Xavier 7.x,
# Turing 7.5, Ampere/Orin 8.x, Ada/Hopper 8.9/9.0. Not: Maxwell (Nano 5.3), Pascal 6.0, Jetson TX2 (6.2).
NO_FAST_INT8 = {(5, 0), (5, 2), (5, 3), (6, 0), (6, 2)}
FAST_FP16 = {(5, 3), (6, 0), (6, 2)}  # plus every SM >= 7.0


def parse_version(text: str) -> tuple[int, ...]:
    """'8.6.1.6' -> (8, 6, 1, 6); '10.3.0' -> (10, 3, 0). BackendError for anything else."""
    m = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[.+\-].*)?\s*", str(text))
    if not m:
        raise BackendError(f"cannot read a TensorRT version from {text!r}; expected e.g. '8.6.1' or '10.3.0'")
    return tuple(int(g) for g in m.groups() if g is not None)


def check_trt_version(version: str) -> tuple[int, ...]:
    v = parse_version(version)
    if v[:2] < MIN_TRT or v[0] > MAX_TRT_MAJOR or v[0] == 9:
        raise BackendError(f"TensorRT {version} is not supported; supported: 8.5-8.6 and 10.x (JetPack 5.1-6.2)")
    return v


def parse_compute_capability(cc: str | tuple[int, int]) -> tuple[int, int]:
    """'8.7' or (8, 7) -> (8, 7)."""
    if isinstance(cc, tuple) and len(cc) == 2 and all(isinstance(v, int) for v in cc):
        return cc
    m = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", str(cc))
    if not m:
        raise BackendError(f"compute capability {cc!r} is not 'major.minor' (e.g. '5.3' Nano, '8.7' Orin)")
    return int(m.group(1)), int(m.group(2))


def supports_int8(cc: tuple[int, int]) -> bool:
    return cc >= (6, 1) and cc not in NO_FAST_INT8


def supports_fp16(cc: tuple[int, int]) -> bool:
    return cc in FAST_FP16 or cc >= (7, 0)


@dataclass(frozen=True)
class DeviceInfo:
    gpu_name: str
    compute_capability: tuple[int, int]
    trt_version: str
    dla_cores: int = 0
    sm_count: int = 0          # every Orin reports the same name and SM 8.7; the SM count and board tell them apart
    board: str = "unknown"     # /proc/device-tree/model
    l4t: str = "unknown"       # Jetson Linux release (/etc/nv_tegra_release), pins the JetPack
    cuda: str = "unknown"      # CUDA driver version, e.g. '12.6'

    @property
    def cc_text(self) -> str:
        return f"{self.compute_capability[0]}.{self.compute_capability[1]}"


def choose_precision(requested: str, device: DeviceInfo, available: set[str]) -> str:
    """The engine precision for `requested` (auto|fp32|fp16|int8) on this GPU, given the bundle's variants
    (`available` holds 'int8' if it has a QDQ graph, 'fp32' if it has a float graph)."""
    cc, name = device.compute_capability, f"{device.gpu_name} (SM {device.cc_text})"
    if requested == "auto":
        if supports_int8(cc) and "int8" in available:
            return "int8"
        return "fp16" if supports_fp16(cc) and "fp32" in available else "fp32"
    if requested == "int8":
        if not supports_int8(cc):
            raise BackendError(f"{name} has no fast INT8; set engines.precision to fp16 or auto")
        if "int8" not in available:
            raise BackendError("the model bundle has no INT8 (QDQ) graph; install the compressed bundle or use fp16")
        return "int8"
    if requested == "fp16" and not supports_fp16(cc):
        raise BackendError(f"{name} has no fast FP16; set engines.precision to fp32 or auto")
    return requested


def needs_float_graph(precision: str) -> bool:
    """FP16/FP32 engines are built from the float ONNX; INT8 from the explicit QDQ graph."""
    return precision in ("fp16", "fp32")
