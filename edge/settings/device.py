"""`device:` section: which device class this is and how it is powered (clinic/device ids live in `sync:`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from edge.config import SECTIONS, check_keys, typed
from edge.errors import ConfigError

DEVICE_CLASSES = ("orin-nano-8gb", "orin-nx-16gb", "agx-orin", "xavier-nx", "cpu-laptop")
UNSUPPORTED = {"jetson-nano": "the original Jetson Nano is not supported: its last JetPack (4.6) ships Python 3.6, "
                              "which cannot run fetal-edge (needs >= 3.8), and TensorRT 8.2, whose ONNX parser stops "
                              "at opset 13 (the models are opset 17); see docs/device.md"}
_KEYS = {"class", "name", "power_mode", "jetson_clocks", "memory_mb", "fp16_only"}


@dataclass(frozen=True)
class DeviceSettings:
    device_class: str = "cpu-laptop"
    name: str = "fetal-edge device"
    power_mode: int | None = None   # nvpmodel mode id (Jetson); None: leave as flashed
    jetson_clocks: bool = False     # pin clocks at maximum for steady latency
    memory_mb: int = 8192
    fp16_only: bool = False         # a GPU without fast INT8 (e.g. Maxwell / Pascal 6.0): FP16 engines only


@SECTIONS.register("device")
def parse(d: Mapping[str, Any]) -> DeviceSettings:
    d = check_keys(d, "device", _KEYS)
    if d.get("class") in UNSUPPORTED:
        raise ConfigError(f"device.class = {d['class']!r}: {UNSUPPORTED[d['class']]}; supported classes: "
                          f"{list(DEVICE_CLASSES)}")
    return DeviceSettings(
        device_class=typed(d, "device", "class", str, "cpu-laptop", choices=DEVICE_CLASSES),
        name=typed(d, "device", "name", str, "fetal-edge device"),
        power_mode=typed(d, "device", "power_mode", int, None, lo=0, hi=15),
        jetson_clocks=typed(d, "device", "jetson_clocks", bool, False),
        memory_mb=typed(d, "device", "memory_mb", int, 8192, lo=512, hi=1 << 20),
        fp16_only=typed(d, "device", "fp16_only", bool, False),
    )
