"""`python -m research.biometry cv`: every development image measured once, out of fold, grouped by subject;
a finished fold is reused, another recipe trains again."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from compress.data.hc18 import load_split
from compress.paths import REPO_ROOT
from compress.pipeline.config import load_pipeline_config
from research.biometry.crossval import run_cv, subject_fold

RECIPE = REPO_ROOT / "compress" / "configs" / "biometry.yaml"


def tiny(cfg):  # type: ignore[no-untyped-def]
    return replace(cfg, task_options={**cfg.task_options, "input_size": [64, 96]},
                   student=replace(cfg.student, family="ds-seg", width_mult=0.25, init="scratch"),
                   train=replace(cfg.train, epochs=1, batch_size=2))


def test_cv_measures_every_dev_image_once_and_reuses_finished_folds(data_dir: Path, hc18_dir: Path,
                                                                     tmp_path: Path) -> None:
    cfg = tiny(load_pipeline_config(RECIPE))
    result = run_cv(cfg, data_dir, tmp_path, folds=2, limit=5)
    dev = {r.name: r for split in ("train", "val") for r in load_split(hc18_dir, split)[:5]}
    assert sorted(row["name"] for row in result["rows"]) == sorted(dev)
    for row in result["rows"]:
        assert row["fold"] == subject_fold(dev[row["name"]].subject, 2)
        assert row["hc_mm"] is not None or row["reason"]
    assert (tmp_path / "cv_k2.json").is_file()
    fold1 = tmp_path / "student_cv1.pt"
    stamp = fold1.stat().st_mtime_ns
    again = run_cv(cfg, data_dir, tmp_path, folds=2, limit=5, only_fold=1)
    assert fold1.stat().st_mtime_ns == stamp and {r["fold"] for r in again["rows"]} == {1}
    run_cv(replace(cfg, train=replace(cfg.train, epochs=2)), data_dir, tmp_path, folds=2, limit=5, only_fold=1)
    assert fold1.stat().st_mtime_ns != stamp
