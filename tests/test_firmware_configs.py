"""Every firmware config in firmware_configs/ loads through the schema, one per device class, with the
settings each class needs; a malformed file is a clear ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import load_config, read_yaml
from edge.errors import ConfigError
from edge.manifest import load_manifest
from edge.models import resolve_model_dir
from edge.pipeline.app import check_cross_sections
from edge.settings.device import DEVICE_CLASSES

CONFIGS = Path(__file__).resolve().parent.parent / "firmware_configs"
NO_DLA = ("orin-nano-8gb",)
TRT_BEFORE_8_6 = ("xavier-nx",)  # JetPack 5.1 only: TensorRT 8.5, no builder optimisation level


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
    if name != "cpu-laptop":
        assert not dev.fp16_only  # every supported Jetson (Xavier, Orin) has fast INT8
    if be.name == "tensorrt":  # engines land in the Docker volume (Dockerfile.jetson)
        assert cfg.section("engines").cache_dir.startswith("/var/lib/fetal-edge/")


@pytest.mark.parametrize("name", DEVICE_CLASSES)
def test_tensorrt_configs_state_their_engines_section(name: str) -> None:
    """Engines are built on the device from an explicit section (the defaults are not silently relied on);
    a config without TensorRT has none (nothing would read it)."""
    path = CONFIGS / f"{name}.yaml"
    raw, cfg = read_yaml(path, "config file", ""), load_config(path)
    engines = cfg.section("engines")
    if cfg.section("backend").name != "tensorrt":
        assert "engines" not in raw
        return
    assert {"precision", "cache_dir", "workspace_mb", "timing_cache"} <= set(raw["engines"])
    assert engines.precision == ("fp16" if cfg.section("device").fp16_only else "auto")
    if name in NO_DLA:
        assert engines.dla_core is None
    if name in TRT_BEFORE_8_6:
        assert engines.builder_optimization_level is None
    assert Path(engines.timing_cache).parent == Path(engines.cache_dir)


@pytest.mark.parametrize("name", DEVICE_CLASSES)
def test_onnxruntime_configs_name_a_variant_every_shipped_model_has(name: str) -> None:
    cfg = load_config(CONFIGS / f"{name}.yaml")
    be, p = cfg.section("backend"), cfg.section("pipeline")
    for model in (p.plane_model, p.head_model):
        m = load_manifest(resolve_model_dir(model), verify=False).variant(be.variant)
        assert be.name != "onnxruntime" or m.precision == be.precision


def test_original_jetson_nano_is_refused_with_the_reason() -> None:
    """Issue #26 finding 4: no config may promise what cannot run; JetPack 4.6 (the Nano's last) has Python 3.6."""
    from edge.config import parse_config

    assert not (CONFIGS / "jetson-nano.yaml").exists()
    with pytest.raises(ConfigError, match="Jetson Nano is not supported.*Python 3.6.*opset 13"):
        parse_config({"device": {"class": "jetson-nano"}})


@pytest.mark.parametrize("name", [n for n in DEVICE_CLASSES if n != "cpu-laptop"])
def test_jetson_configs_name_the_jetpacks_they_run_on(name: str) -> None:
    """Each Jetson config says which JetPack releases (with Python, TensorRT, CUDA) it runs on, as docs/device.md."""
    header = (CONFIGS / f"{name}.yaml").read_text(encoding="utf-8").split("device:")[0]
    jetpacks = ["5.1.x"] if name == "xavier-nx" else ["6.1/6.2", "6.0", "5.1.x"]
    for jp in jetpacks:
        assert f"{jp} (" in header or f"{jp} only (" in header, (name, jp)
    assert "Python 3.8" in header and "TensorRT 8.5.2" in header and "CUDA 11.4" in header
    assert ("Python 3.10" in header) == (name != "xavier-nx")


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
