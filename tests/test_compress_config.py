"""Pipeline config validation: every shipped config parses; bad configs fail naming the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compress.pipeline.config import load_pipeline_config, parse_pipeline_config
from edge.errors import ConfigError

CONFIGS = sorted(p for p in (Path(__file__).resolve().parent.parent / "compress" / "configs").glob("*.yaml")
                 if p.stem != "smoke")   # smoke.yaml holds overlays, tested with the recipes they shrink
BASE = {"task": "toy", "output": "o", "work_dir": "w", "teacher": {"family": "tiny", "train_epochs": 5},
        "student": {"family": "tiny", "width_mult": 0.5}, "prune": {"ratios": [0.2]}}


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
    assert (cfg.train.schedule, cfg.train.select, cfg.student.init, cfg.calibrate.enabled) == \
        ("one_cycle", "last", "scratch", True)
    assert cfg.quantize.per_tensor_activations is True  # TensorRT quantises activations per tensor only


@pytest.mark.parametrize("raw, words", [
    (with_(typo_key=1), ["typo_key", "valid keys"]),
    (with_(distill__temprature=3.0), ["temprature", "temperature"]),
    (with_(task="lungs"), ["task", "lungs", "biometry"]),
    (with_(prune__ratios=[1.5]), ["prune.ratios", "1.5", "(0.0, 0.95]"]),
    (with_(prune__ratios=0.2), ["prune.ratios", "list"]),
    (with_(prune__max_macs_vs_teacher=0.1), ["prune.ratios", "max_macs_vs_teacher", "conflict"]),
    (with_(prune={"enabled": True}), ["prune.ratios", "max_macs_vs_teacher"]),
    (with_(train__epochs=-1), ["train.epochs"]),
    (with_(train__schedule="step"), ["train.schedule", "one_cycle", "cosine"]),
    (with_(train__select="best"), ["train.select", "best_val"]),
    (with_(student={"width_mult": 0.5}), ["student", "family"]),
    (with_(student__init="scratch", train__epochs=0), ["train.epochs 0", "trained checkpoint"]),
    (with_(teacher={"enabled": False, "family": "tiny"}), ["teacher.enabled: false", "teacher.family"]),
    (with_(teacher={"enabled": False}, distill__alpha=0.5), ["distill settings need a teacher"]),
    (with_(distill__alpha="high"), ["distill.alpha", "float"]),
    (with_(quantize__method="tensorrt"), ["quantize.method", "nncf", "ort"]),
    (with_(quantize__min_calibration_frames=500), ["min_calibration_frames", "calibration_frames"]),
    (with_(quantize__per_tensor_activations="yes"), ["quantize.per_tensor_activations", "bool"]),
    (with_(teacher={}), ["teacher.checkpoint", "teacher.enabled: false"]),
    (with_(teacher={"checkpoint": "t.pt", "train_epochs": 3}), ["conflict"]),
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
    cfg.write_text(yaml.safe_dump({**BASE, "prune": {"ratios": [0.2], "max_macs_vs_teacher": 0.1}}))
    assert main(["pipeline", "--config", str(cfg)]) == 2
    assert "conflict" in capsys.readouterr().err
    cfg.write_text(yaml.safe_dump(BASE))
    assert main(["train", "--task", "planes", "--config", str(cfg)]) == 2
    assert "--task planes conflicts with task 'toy'" in capsys.readouterr().err


def test_bundle_provenance_names_only_the_stages_that_ran() -> None:
    """A student taken as it is with pruning off must not be called 'distilled, pruned' in its manifest."""
    from compress.pipeline.card import stages_run

    full = parse_pipeline_config(with_(train__epochs=30))
    assert stages_run(full) == ["distilled 30 epochs", "pruning tried", "post-processing calibrated", "INT8 PTQ"]
    bare = parse_pipeline_config(with_(train__epochs=0, student__init="s.pt", prune={"enabled": False},
                                       calibrate={"enabled": False}))
    assert stages_run(bare) == ["taken as is (no training here)", "INT8 PTQ"]
    alone = parse_pipeline_config(with_(teacher={"enabled": False}, prune={"enabled": False}))
    assert stages_run(alone)[0] == "trained 10 epochs on labels, no teacher"


def test_smoke_overlay_shrinks_a_recipe_and_a_task_without_one_is_named(tmp_path: Path) -> None:
    configs = Path(__file__).resolve().parent.parent / "compress" / "configs"
    cfg = load_pipeline_config(configs / "biometry.yaml", configs / "smoke.yaml")
    assert cfg.task_options["limit_images"] > 0 and cfg.train.epochs < 40 and cfg.student.family == "sono-seg"
    assert cfg.task_options["augment"]["rotate_deg"] == 25.0      # the recipe's own values survive the overlay
    empty = tmp_path / "smoke.yaml"
    empty.write_text(yaml.safe_dump({"other": {}}))
    with pytest.raises(ConfigError, match="no smoke section for task 'biometry'"):
        load_pipeline_config(configs / "biometry.yaml", empty)
