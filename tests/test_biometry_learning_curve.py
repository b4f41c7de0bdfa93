"""What the head student trains on: `cv-biometry --train-fraction` (nested subject subsets, read against
training-set size by `compress.biometry.learning_curve`) and `--large-head-weight` (large heads drawn more often);
a run finished before a recipe option existed still counts as that option's default."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
from torch.utils.data import ConcatDataset, Dataset, Subset

from compress.biometry.crossval import in_fraction, run_cv
from compress.biometry.learning_curve import common_maes, fit_log, training_size
from compress.biometry.train import TrainConfig, checkpoint_path, finished_run, item_records, sampling, summary_path
from compress.data.hc18 import load_split
from edge.errors import ConfigError
from tests.biometry_fixtures import recipe


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


def _result(path: Path, names: list[str], errors: list[float | None], data: Path, fraction: float | None) -> Path:
    rows = [{"name": n, "fold": 0, "hc_ref_mm": 150.0, "hc_mm": None if e is None else 150.0 + e, "reason": None}
            for n, e in zip(names, errors)]
    path.write_text(json.dumps({"rows": rows, "summary": {"folds": 3}}))
    config = {"data": str(data)} if fraction is None else {"data": str(data), "train_fraction": str(fraction)}
    (path.parent / f"student{path.stem.split('cv_k3', 1)[1]}_cv0_summary.json").write_text(json.dumps({"config": config}))
    return path


def test_maes_are_taken_over_the_images_every_run_measured(tmp_path: Path, hc18_dir: Path) -> None:
    a = _result(tmp_path / "cv_k3_a.json", ["x", "y", "z"], [1.0, 3.0, None], hc18_dir, None)
    b = _result(tmp_path / "cv_k3_b.json", ["x", "y", "z"], [-2.0, None, 5.0], hc18_dir, 0.5)
    assert common_maes([a, b]) == ([1.0, 2.0], 1)
    c = _result(tmp_path / "cv_k3_c.json", ["x", "y", "z"], [None, None, 1.0], hc18_dir, 0.5)
    with pytest.raises(ConfigError, match="share no measured image"):
        common_maes([a, c])


def test_training_size_follows_the_folds_and_the_fraction(tmp_path: Path, hc18_dir: Path) -> None:
    names = [r.name for split in ("train", "val") for r in load_split(hc18_dir, split)]
    full = training_size(_result(tmp_path / "cv_k3_full.json", names, [0.0] * len(names), hc18_dir, None))
    third = training_size(_result(tmp_path / "cv_k3_third.json", names, [0.0] * len(names), hc18_dir, 1 / 3))
    assert full == pytest.approx(len(names) * 2 / 3)   # every image trains in two of the three folds
    assert third == pytest.approx(full / 3, rel=0.1)
    with pytest.raises(ConfigError, match="limit"):
        training_size(_result(tmp_path / "cv_k3_few.json", names[:10], [0.0] * 10, hc18_dir, None))


def test_log_fit_recovers_a_known_curve() -> None:
    sizes = [100.0, 200.0, 400.0]
    a, b = fit_log(sizes, [5.0 - 0.5 * math.log(n) for n in sizes])
    assert (a, b) == (pytest.approx(5.0), pytest.approx(-0.5))


def test_large_heads_are_drawn_as_often_as_weighted(hc18_dir: Path, tmp_path: Path) -> None:
    """`--large-head-weight 3`: through the CV's Subset of a ConcatDataset, heads with HC >= 200 mm come up ~3x
    as often per head as the others; weight 1 keeps the plain shuffle."""
    train, val = load_split(hc18_dir, "train"), load_split(hc18_dir, "val")
    records = train + val
    parts = [_Records(train), _Records(val)]
    ds = Subset(ConcatDataset(parts), list(range(0, len(records), 2)))
    assert [r.name for r in item_records(ds)] == [r.name for r in records[::2]]
    assert sampling(TrainConfig(data=hc18_dir, out=tmp_path), ds) == {"shuffle": True}
    sampler = sampling(TrainConfig(data=hc18_dir, out=tmp_path, large_head_weight=3.0), ds)["sampler"]
    large = np.array([r.hc_mm >= 200 for r in item_records(ds)])
    draws = np.concatenate([np.fromiter(iter(sampler), int) for _ in range(40)])
    per_head = np.bincount(draws, minlength=large.size)
    assert per_head[large].mean() / per_head[~large].mean() == pytest.approx(3.0, rel=0.1)


def test_large_head_weight_outside_its_range_is_refused(hc18_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--large-head-weight 0"):
        recipe(hc18_dir, tmp_path, "--large-head-weight", "0")
    assert recipe(hc18_dir, tmp_path, "--large-head-weight", "2").large_head_weight == 2.0


class _Records(Dataset):
    def __init__(self, records: list) -> None:
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> int:
        return i


def test_a_summary_from_before_an_option_counts_as_its_default(hc18_dir: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(data=hc18_dir, out=tmp_path, epochs=2, tag="_old")
    config = {k: str(v) for k, v in asdict(cfg).items() if k != "large_head_weight"}
    checkpoint_path(cfg).write_bytes(b"x")
    summary_path(cfg).write_text(json.dumps({"config": config, "history": [{}, {}]}))
    assert finished_run(cfg)
    assert not finished_run(replace(cfg, large_head_weight=2.0))
