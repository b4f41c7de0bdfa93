"""Pipeline config validation: every shipped config parses; bad configs fail naming the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compress.pipeline.config import load_pipeline_config, parse_pipeline_config
from edge.errors import ConfigError

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "compress" / "configs").glob("*.yaml"))
BASE = {"task": "toy", "output": "o", "work_dir": "w", "teacher": {"train_steps": 5}, "prune": {"ratio": 0.2}}


def with_(**changes: object) -> dict:
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    for key, value in changes.items():
        section, _, sub = key.partition("__")
        if sub:
            raw.setdefault(section, {})[sub] = value
        else:
            raw[section] = value
    return raw


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_config_parses(path: Path) -> None:
    cfg = load_pipeline_config(path)
    assert cfg.export.opset <= 17
    assert cfg.output.is_absolute() and cfg.work_dir.is_absolute()


def test_minimal_config_gets_documented_defaults() -> None:
    cfg = parse_pipeline_config(with_())
    assert (cfg.distill.temperature, cfg.quantize.method, cfg.quantize.budget) == (4.0, "nncf", 0.5)


@pytest.mark.parametrize("raw, words", [
    (with_(typo_key=1), ["typo_key", "valid keys"]),
    (with_(distill__temprature=3.0), ["temprature", "temperature"]),
    (with_(task="lungs"), ["task", "lungs", "biometry"]),
    (with_(prune__ratio=1.5), ["prune.ratio", "1.5", "[0.0, 0.95]"]),
    (with_(prune__max_macs_vs_teacher=0.1), ["prune.ratio", "max_macs_vs_teacher", "conflict"]),
    (with_(prune={"enabled": True}), ["prune.ratio", "max_macs_vs_teacher"]),
    (with_(distill__steps=-1), ["distill.steps"]),
    (with_(distill__alpha="high"), ["distill.alpha", "float"]),
    (with_(quantize__method="tensorrt"), ["quantize.method", "nncf", "ort"]),
    (with_(quantize__min_calibration_frames=500), ["min_calibration_frames", "calibration_frames"]),
    (with_(teacher={}), ["teacher.checkpoint"]),
    (with_(teacher={"checkpoint": "t.pt", "train_steps": 3}), ["conflict"]),
    (with_(distill__feature_weight=1.0), ["feature_layers"]),
    (with_(export__opset=18), ["export.opset", "17"]),
    (with_(gate=True), ["gate"]),
])
def test_bad_config_names_the_problem(raw: dict, words: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        parse_pipeline_config(raw)
    for w in words:
        assert w in str(err.value)


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_pipeline_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [toy\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_pipeline_config(bad)
    bad.write_text(yaml.safe_dump({"task": "toy"}))
    with pytest.raises(ConfigError, match="missing required"):
        load_pipeline_config(bad)


def test_cli_reports_config_errors_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from compress.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**BASE, "prune": {"ratio": 0.2, "max_macs_vs_teacher": 0.1}}))
    assert main(["pipeline", "--config", str(cfg)]) == 2
    assert "conflict" in capsys.readouterr().err
    cfg.write_text(yaml.safe_dump(BASE))
    assert main(["distill", "--task", "planes", "--config", str(cfg)]) == 2
    assert "--task planes conflicts with task 'toy'" in capsys.readouterr().err


def test_bundle_provenance_names_only_the_stages_that_ran() -> None:
    """A warm-started student passed through with distill.steps 0 and pruning off must not be called
    'distilled, pruned' in its manifest (the biometry 1.2.0 config does exactly that)."""
    from compress.pipeline.bundle import stages_run

    full = parse_pipeline_config(with_(distill__steps=300))
    assert stages_run(full) == ["distilled 300 steps", "pruned", "INT8 PTQ"]
    bare = parse_pipeline_config(with_(distill__steps=0, prune={"enabled": False}))
    assert stages_run(bare) == ["not distilled here (warm start as is)", "INT8 PTQ"]
