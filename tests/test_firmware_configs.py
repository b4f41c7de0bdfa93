"""Every firmware config in firmware_configs/ loads through the schema, one per device class, with the
settings each class needs; a malformed file is a clear ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import load_config
from edge.errors import ConfigError
from edge.pipeline.app import check_cross_sections
from edge.settings.device import DEVICE_CLASSES

CONFIGS = Path(__file__).resolve().parent.parent / "firmware_configs"


def test_one_config_per_device_class() -> None:
    assert sorted(p.stem for p in CONFIGS.glob("*.yaml")) == sorted(DEVICE_CLASSES)


@pytest.mark.parametrize("name", DEVICE_CLASSES)
def test_config_loads_and_is_consistent(name: str) -> None:
    cfg = load_config(CONFIGS / f"{name}.yaml")
    check_cross_sections(cfg)
    dev, be = cfg.section("device"), cfg.section("backend")
    assert dev.device_class == name
    assert cfg.section("sync").device_id and cfg.section("sync").clinic_id
    assert cfg.section("preprocess").roi is True  # burnt-in text never leaves a device
    if name == "cpu-laptop":
        assert be.name == "onnxruntime" and be.precision == "fp32" and dev.power_mode is None
    else:
        assert be.name == "tensorrt" and dev.power_mode is not None
        assert cfg.section("source").uri.startswith("v4l2://")
    if name == "jetson-nano":
        assert dev.fp16_only and be.precision == "fp16" and cfg.section("engines").precision == "fp16"
    if be.name == "tensorrt":  # engines land in the Docker volume (Dockerfile.jetson)
        assert cfg.section("engines").cache_dir.startswith("/var/lib/fetal-edge/")


@pytest.mark.parametrize("text, message", [
    ("device: [unclosed", "not valid YAML"),
    ("- a\n- b\n", "top level must be a mapping"),
    ("backend:\n  name: onnxruntime\n  thread: 2\n", r"unknown key\(s\) \['thread'\]"),
    ("pipeline:\n  top_k: -3\n", r"pipeline.top_k = -3"),
])
def test_malformed_config_is_refused_with_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found; see firmware_configs/"):
        load_config(tmp_path / "none.yaml")
