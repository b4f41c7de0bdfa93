"""Learning curves of the head student: `cv-biometry --train-fraction` trains each fold on nested subject subsets."""

from __future__ import annotations

from pathlib import Path

import pytest

from compress.biometry.crossval import in_fraction, run_cv
from compress.biometry.train import TrainConfig
from compress.data.hc18 import load_split
from edge.errors import ConfigError


def test_train_fractions_are_nested_subject_subsets(hc18_dir: Path) -> None:
    subjects = sorted({r.subject for r in load_split(hc18_dir, "train")})
    third = {s for s in subjects if in_fraction(s, 1 / 3)}
    two_thirds = {s for s in subjects if in_fraction(s, 2 / 3)}
    assert third < two_thirds < set(subjects)
    assert abs(len(third) / len(subjects) - 1 / 3) < 0.08 and abs(len(two_thirds) / len(subjects) - 2 / 3) < 0.08


def test_a_train_fraction_that_leaves_no_batch_is_refused(hc18_dir: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(data=hc18_dir, out=tmp_path, epochs=1, batch=8, width_mult=0.25, train_fraction=0.05)
    with pytest.raises(ConfigError, match="fewer than a batch"):
        run_cv(cfg, folds=2, limit=6)
    with pytest.raises(ConfigError, match="must be in"):
        run_cv(TrainConfig(data=hc18_dir, out=tmp_path, train_fraction=0.0), folds=2, limit=6)
