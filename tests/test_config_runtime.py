"""The runtime's config sections (device, backend, source, preprocess, pipeline): defaults, and errors
that name the key and say why; conflicts between keys and between sections are named both ways."""

from __future__ import annotations

import pytest

from edge.config import parse_config
from edge.errors import ConfigError
from edge.pipeline.app import check_cross_sections


def test_defaults_are_a_working_laptop_profile() -> None:
    cfg = parse_config({})
    assert cfg.section("backend").name == "onnxruntime" and cfg.section("backend").precision == "fp32"
    assert cfg.section("source").uri == "synthetic://sweep"
    assert cfg.section("preprocess").roi is True and cfg.section("preprocess").probe_preset is None
    assert cfg.section("pipeline").top_k == 5


@pytest.mark.parametrize("raw, message", [
    ({"backend": {"name": "trt"}}, r"backend.name = 'trt': valid values are \['onnxruntime', 'tensorrt'\]"),
    ({"backend": {"threads": 0}}, r"backend.threads = 0: must be within \[1, 64\]"),
    ({"backend": {"precision": "fp16"}}, r"backend.precision = 'fp16' conflicts with backend.name = 'onnxruntime'"),
    ({"backend": {"speed": 3}}, r"config section 'backend': unknown key\(s\) \['speed'\]"),
    ({"device": {"class": "raspberry"}}, r"device.class = 'raspberry': valid values are"),
    ({"device": {"power_mode": "max"}}, r"device.power_mode = 'max': expected int"),
    ({"source": {"read_timeout_s": 5, "stall_timeout_s": 1}},
     r"source.stall_timeout_s = 1.0 conflicts with source.read_timeout_s = 5.0"),
    ({"source": {"options": [1, 2]}}, r"source.options must be a mapping"),
    ({"source": {"uri": 7}}, r"source.uri = 7: expected str"),
    ({"preprocess": {"probe_preset": "c5"}}, r"preprocess.probe_preset = 'c5': not a key of preprocess.probe_presets"),
    ({"preprocess": {"probe_presets": {"c5": 3.0}}}, r"preprocess.probe_presets.c5: pixel spacing 3.0 mm/px is outside"),
    ({"preprocess": {"probe_presets": {"c5": 0.2}, "probe_preset": "c5", "pixel_spacing_mm": 0.2}},
     r"preprocess.probe_preset and preprocess.pixel_spacing_mm conflict"),
    ({"preprocess": {"roi": "yes"}}, r"preprocess.roi = 'yes': expected bool"),
    ({"pipeline": {"top_k": 0}}, r"pipeline.top_k = 0: must be within \[1, 100\]"),
    ({"pipeline": {"min_confidence": 1.5}}, r"pipeline.min_confidence = 1.5: must be within"),
    ({"pipeline": {"queue_size": True}}, r"pipeline.queue_size = True: expected int"),
    ({"pipline": {}}, r"unknown section\(s\) \['pipline'\]"),
])
def test_bad_values_name_key_and_reason(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_presets_are_parsed_and_checked() -> None:
    pre = parse_config({"preprocess": {"probe_presets": {"c5-14cm": 0.21, "l12-4cm": 0.06},
                                       "probe_preset": "c5-14cm"}}).section("preprocess")
    assert pre.probe_presets == {"c5-14cm": 0.21, "l12-4cm": 0.06} and pre.probe_preset == "c5-14cm"


@pytest.mark.parametrize("raw, message", [
    ({"device": {"class": "xavier-nx", "fp16_only": True}, "backend": {"name": "tensorrt", "precision": "int8"}},
     r"backend.precision = 'int8' conflicts with device.fp16_only = true"),
    ({"device": {"class": "xavier-nx", "fp16_only": True}, "backend": {"name": "tensorrt", "precision": "fp16"},
      "engines": {"precision": "int8"}}, r"engines.precision = 'int8' conflicts with device.fp16_only = true"),
    ({"device": {"class": "cpu-laptop"}, "backend": {"name": "tensorrt"}},
     r"backend.name = 'tensorrt' conflicts with device.class = 'cpu-laptop'"),
])
def test_conflicts_between_sections(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_cross_sections(parse_config(raw))
