"""Engine logic that needs no TensorRT: version parsing, compute-capability rules, precision choice,
the engines config section and the bundle -> build spec mapping."""

from __future__ import annotations

import pytest

from edge.config import parse_config
from edge.engines.device import (DeviceInfo, check_trt_version, choose_precision, parse_compute_capability,
                                 parse_version, supports_fp16, supports_int8)
from edge.errors import BackendError, ConfigError

NANO = DeviceInfo("NVIDIA Tegra X1", (5, 3), "8.2.1.8")
TX2 = DeviceInfo("NVIDIA Tegra X2", (6, 2), "8.2.1")
XAVIER = DeviceInfo("Xavier", (7, 2), "8.5.2", dla_cores=2)
ORIN = DeviceInfo("Orin", (8, 7), "10.3.0", dla_cores=2)
BOTH = {"int8", "fp32"}


@pytest.mark.parametrize("text, expected", [("8.6.1.6", (8, 6, 1, 6)), ("10.3.0", (10, 3, 0)), ("8.2", (8, 2)),
                                            ("8.6.1.post1", (8, 6, 1))])
def test_parse_version(text: str, expected: tuple) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["", "eight", "8", "v8.6"])
def test_unreadable_version(text: str) -> None:
    with pytest.raises(BackendError, match="expected e.g."):
        parse_version(text)


@pytest.mark.parametrize("text", ["7.1.3", "8.0.1", "9.2.0", "11.0.0"])
def test_unsupported_trt_versions_are_named(text: str) -> None:
    with pytest.raises(BackendError, match=f"TensorRT {text} is not supported"):
        check_trt_version(text)


def test_compute_capability_parsing() -> None:
    assert parse_compute_capability("5.3") == (5, 3) and parse_compute_capability((8, 7)) == (8, 7)
    with pytest.raises(BackendError, match="major.minor"):
        parse_compute_capability("sm_87")


@pytest.mark.parametrize("cc, int8, fp16", [((5, 3), False, True), ((6, 1), True, False), ((6, 2), False, True),
                                            ((7, 2), True, True), ((8, 7), True, True), ((5, 2), False, False)])
def test_capabilities_per_sm(cc: tuple, int8: bool, fp16: bool) -> None:
    assert (supports_int8(cc), supports_fp16(cc)) == (int8, fp16)


@pytest.mark.parametrize("device, requested, available, expected", [
    (NANO, "auto", BOTH, "fp16"),          # Maxwell: no INT8 -> FP16 from the float graph
    (TX2, "auto", BOTH, "fp16"),
    (XAVIER, "auto", BOTH, "int8"),        # INT8 from the explicit QDQ graph
    (ORIN, "auto", BOTH, "int8"),
    (ORIN, "auto", {"fp32"}, "fp16"),      # old FP32-only bundle
    (ORIN, "fp32", BOTH, "fp32"),
    (DeviceInfo("GTX 980", (5, 2), "8.6.1"), "auto", BOTH, "fp32"),
])
def test_precision_choice(device: DeviceInfo, requested: str, available: set, expected: str) -> None:
    assert choose_precision(requested, device, available) == expected


def test_impossible_precision_requests_say_what_to_do() -> None:
    with pytest.raises(BackendError, match="SM 5.3.*no fast INT8.*fp16 or auto"):
        choose_precision("int8", NANO, BOTH)
    with pytest.raises(BackendError, match="no INT8 .QDQ. graph"):
        choose_precision("int8", ORIN, {"fp32"})


def test_engines_section_defaults_and_values() -> None:
    s = parse_config({}).section("engines")
    assert (s.precision, s.dla_core, s.gpu_fallback, s.workspace_mb) == ("auto", None, True, 512)
    s = parse_config({"engines": {"precision": "int8", "dla_core": 0, "timing_cache": "/tmp/t.cache",
                                  "models": ["plane-cls"], "workspace_mb": 256}}).section("engines")
    assert (s.dla_core, s.models, s.timing_cache) == (0, ("plane-cls",), "/tmp/t.cache")


@pytest.mark.parametrize("raw, words", [
    ({"precison": "fp16"}, ["precison", "valid keys"]),
    ({"precision": "int4"}, ["engines.precision", "auto"]),
    ({"dla_core": 2}, ["engines.dla_core"]),
    ({"dla_core": 0, "precision": "fp32"}, ["dla_core", "fp32", "conflicts"]),
    ({"workspace_mb": 0}, ["engines.workspace_mb"]),
    ({"models": "plane-cls"}, ["engines.models", "list"]),
])
def test_bad_engines_section(raw: dict, words: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"engines": raw})
    for w in words:
        assert w in str(err.value)
