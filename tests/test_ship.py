"""`fetal-compress ship`: a bundle is installed only when its files match the manifest, every accuracy gate
passed and its version is newer than the installed one; otherwise a clear error, and the installed model
is left exactly as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from compress.cli import main
from compress.pipeline.manifest import manifest_dict, write_manifest
from compress.pipeline.ship import ship
from compress.stages.export import export_onnx
from compress.tasks.toy import TinyNet
from edge.errors import ConfigError, ModelError
from edge.manifest import load_manifest


def bundle(d: Path, version: str, passed: bool = True, seed: int = 0) -> Path:
    """A small bundle as the pipeline writes one: ONNX, compression report, manifest through the one writer."""
    torch.manual_seed(seed)
    export_onnx(TinyNet(4), (1, 1, 32, 32), d / "model.onnx")
    rows = [{"stage": "train", "gate": {"passed": True}}, {"stage": "quantize", "gate": {"passed": passed}}]
    (d / "report.json").write_text(json.dumps({"rows": rows}), encoding="utf-8")
    write_manifest(d, manifest_dict(d, name="toy-plane-cls", version=version, task="planes", model_file="model.onnx",
                                    precision="fp32", input_shape=(1, 1, 32, 32), output_kind="class_logits",
                                    class_names=[f"c{i}" for i in range(6)], provenance={}, metrics={},
                                    preprocessing={"size": [32, 32], "resize": "stretch", "interpolation": "area",
                                                   "normalise": {"mode": "per_image", "scale": 1.0}},
                                    compression_report="report.json"))
    return d


def snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    ship(bundle(tmp_path / "v1", "1.2.0"), models)
    return models


def test_a_newer_verified_bundle_replaces_the_installed_one(installed: Path, tmp_path: Path) -> None:
    new = bundle(tmp_path / "v2", "1.10.0", seed=1)           # 1.10 > 1.2: versions compare as numbers
    target = ship(new, installed)
    assert target == installed / "toy-plane-cls" and snapshot(target) == snapshot(new)
    assert load_manifest(target, verify=True).version == "1.10.0"
    assert sorted(p.name for p in installed.iterdir()) == ["toy-plane-cls"]   # nothing left aside


@pytest.mark.parametrize("damage, words", [
    ("checksum", ["sha256", "altered"]),
    ("gate", ["did not pass their accuracy gates"]),
    ("older", ["holds toy-plane-cls 1.2.0", "not older than the bundle's 1.1.9"]),
    ("same", ["not older than the bundle's 1.2.0"]),
    ("version", ["not MAJOR.MINOR.PATCH"]),
])
def test_bad_bundles_are_refused_and_the_installed_model_is_untouched(installed: Path, tmp_path: Path,
                                                                       damage: str, words: list[str]) -> None:
    before = snapshot(installed / "toy-plane-cls")
    version = {"older": "1.1.9", "same": "1.2.0", "version": "1.3"}.get(damage, "1.3.0")
    bad = bundle(tmp_path / "bad", version, passed=damage != "gate", seed=2)
    if damage == "checksum":
        data = bytearray((bad / "model.onnx").read_bytes())
        data[-10] ^= 0xFF
        (bad / "model.onnx").write_bytes(bytes(data))
    with pytest.raises((ModelError, ConfigError)) as err:
        ship(bad, installed)
    for w in words:
        assert w in str(err.value)
    assert snapshot(installed / "toy-plane-cls") == before
    assert sorted(p.name for p in installed.iterdir()) == ["toy-plane-cls"]


def test_cli_ships_and_reports_a_refusal_with_the_model_exit_code(tmp_path: Path, capsys) -> None:
    models = tmp_path / "models"
    assert main(["ship", str(bundle(tmp_path / "b", "0.1.0")), "--models-dir", str(models), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "0.1.0"
    assert main(["ship", str(tmp_path / "b"), "--models-dir", str(models)]) == 4
    assert "not older" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "b")
    assert main(["ship", str(tmp_path / "b"), "--models-dir", str(models)]) == 4
    assert "no manifest.json" in capsys.readouterr().err
