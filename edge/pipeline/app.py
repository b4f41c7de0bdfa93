"""Wiring for `fetal-edge run` / `demo` and the benchmark: config -> models -> runner, and checks that
span sections (which the per-section parsers cannot see)."""

from __future__ import annotations

import logging
from pathlib import Path

from edge.clinical.dating import Pregnancy
from edge.config import Config, load_config, parse_config
from edge.errors import ConfigError
from edge.pipeline.analyzers import HeadStage, PlaneStage
from edge.pipeline.runner import ExamRunner
from edge.pipeline.status import Recorder

log = logging.getLogger(__name__)


def config_from(path: str | Path | None) -> Config:
    return load_config(path) if path else parse_config({})


def check_cross_sections(cfg: Config) -> None:
    """Conflicts between sections, named both ways."""
    dev, be = cfg.section("device"), cfg.section("backend")
    if dev.fp16_only and be.precision == "int8":
        raise ConfigError(f"backend.precision = 'int8' conflicts with device.fp16_only = true "
                          f"({dev.device_class} has no INT8 tensor cores); use precision fp16 or fp32")
    engines = cfg.section("engines")
    if dev.fp16_only and be.name == "tensorrt" and engines.precision == "int8":
        raise ConfigError(f"engines.precision = 'int8' conflicts with device.fp16_only = true "
                          f"({dev.device_class}); use engines.precision fp16 or auto")
    if be.name == "tensorrt" and dev.device_class == "cpu-laptop":
        raise ConfigError("backend.name = 'tensorrt' conflicts with device.class = 'cpu-laptop': TensorRT needs an "
                          "NVIDIA GPU; use backend.name onnxruntime")


def backend_options(cfg: Config) -> dict:
    """Keyword options of each model's backend: the `engines` settings for TensorRT; threads and provider for
    onnxruntime, plus, for its GPU providers, where they cache engines (under engines.cache_dir)."""
    be, engines = cfg.section("backend"), cfg.section("engines")
    if be.name == "tensorrt":
        return {"engines": engines}
    options = be.options()
    if be.device != "cpu":
        options["cache_dir"] = str(Path(engines.cache_dir) / "onnxruntime")
    return options


def build_runner(cfg: Config, store: object | None, user_spacing_mm: float | None = None,
                 record: str | Path | None = None, given_mm: dict[str, float] | None = None,
                 pregnancy: Pregnancy | None = None) -> ExamRunner:
    check_cross_sections(cfg)
    be = cfg.section("backend")
    p = cfg.section("pipeline")
    options = backend_options(cfg)
    planes, head = PlaneStage(p, be, options), HeadStage(p, be, options)
    recorder = Recorder(record) if record else None
    return ExamRunner(cfg, planes, head, store, user_spacing_mm, recorder, given_mm, pregnancy)
