"""Learning curves from CV runs on nested subject subsets (`python -m research.biometry cv --fraction F`, read by
`python -m research.biometry curve`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from compress.data.hc18 import load_split
from compress.paths import REPO_ROOT
from compress.pipeline.config import load_pipeline_config
from edge.errors import ConfigError
from research.biometry.crossval import in_fraction, run_cv
from research.biometry.learning_curve import common_maes, fit_log, training_size

RECIPE = REPO_ROOT / "compress" / "configs" / "biometry.yaml"


def test_train_fractions_are_nested_subject_subsets(hc18_dir: Path) -> None:
    subjects = sorted({r.subject for r in load_split(hc18_dir, "train")})
    third = {s for s in subjects if in_fraction(s, 1 / 3)}
    two_thirds = {s for s in subjects if in_fraction(s, 2 / 3)}
    assert third < two_thirds < set(subjects)
    assert abs(len(third) / len(subjects) - 1 / 3) < 0.08 and abs(len(two_thirds) / len(subjects) - 2 / 3) < 0.08


def test_a_train_fraction_that_leaves_no_batch_is_refused(data_dir: Path, tmp_path: Path) -> None:
    cfg = load_pipeline_config(RECIPE)
    with pytest.raises(ConfigError, match="fewer than a batch"):
        run_cv(cfg, data_dir, tmp_path, folds=2, limit=6, fraction=0.05)
    with pytest.raises(ConfigError, match="must be in"):
        run_cv(cfg, data_dir, tmp_path, folds=2, limit=6, fraction=0.0)


def _result(path: Path, names: list[str], errors: list[float | None], data: Path, fraction: float | None) -> Path:
    rows = [{"name": n, "fold": 0, "hc_ref_mm": 150.0, "hc_mm": None if e is None else 150.0 + e, "reason": None}
            for n, e in zip(names, errors)]
    path.write_text(json.dumps({"rows": rows, "summary": {"folds": 3}}))
    config = {"data": str(data)} if fraction is None else {"data": str(data), "fraction": fraction}
    (path.parent / f"student{path.stem.split('cv_k3', 1)[1]}_cv0_summary.json").write_text(json.dumps(config))
    return path


def test_maes_are_taken_over_the_images_every_run_measured(tmp_path: Path, hc18_dir: Path) -> None:
    a = _result(tmp_path / "cv_k3_a.json", ["x", "y", "z"], [1.0, 3.0, None], hc18_dir.parent, None)
    b = _result(tmp_path / "cv_k3_b.json", ["x", "y", "z"], [-2.0, None, 5.0], hc18_dir.parent, 0.5)
    assert common_maes([a, b]) == ([1.0, 2.0], 1)
    c = _result(tmp_path / "cv_k3_c.json", ["x", "y", "z"], [None, None, 1.0], hc18_dir.parent, 0.5)
    with pytest.raises(ConfigError, match="share no measured image"):
        common_maes([a, c])


def test_training_size_follows_the_folds_and_the_fraction(tmp_path: Path, hc18_dir: Path) -> None:
    names = [r.name for split in ("train", "val") for r in load_split(hc18_dir, split)]
    full = training_size(_result(tmp_path / "cv_k3_full.json", names, [0.0] * len(names), hc18_dir.parent, None))
    third = training_size(_result(tmp_path / "cv_k3_third.json", names, [0.0] * len(names), hc18_dir.parent, 1 / 3))
    assert full == pytest.approx(len(names) * 2 / 3)   # every image trains in two of the three folds
    assert third == pytest.approx(full / 3, rel=0.1)
    with pytest.raises(ConfigError, match="limit"):
        training_size(_result(tmp_path / "cv_k3_few.json", names[:10], [0.0] * 10, hc18_dir.parent, None))


def test_log_fit_recovers_a_known_curve() -> None:
    sizes = [100.0, 200.0, 400.0]
    a, b = fit_log(sizes, [5.0 - 0.5 * math.log(n) for n in sizes])
    assert (a, b) == (pytest.approx(5.0), pytest.approx(-0.5))
