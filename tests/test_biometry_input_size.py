"""The head-seg input size as a recipe option: it reaches the checkpoint, the CV fine-tune, the export and the
device runtime as one contract, and every place that can get it wrong refuses with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from compress.biometry.crossval import run_cv
from compress.biometry.evaluate import torch_predict_fn
from compress.biometry.export import export_bundle
from compress.biometry.train import TrainConfig, checkpoint_spec
from compress.data.hc18 import load_split
from compress.nets.segnet import build_student
from compress.stages.common import load_state_into
from edge.biometry.segment import HeadSegmenter
from edge.errors import ConfigError, ModelError
from tests.biometry_fixtures import recipe

SMALL = (64, 96)   # a size no shipped model uses, so nothing can pass by falling back to 160x240


@pytest.fixture(scope="module")
def cv_runs(hc18_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-fold CV at 160x240, then the same folds fine-tuned at SMALL from their own fold's student."""
    out = tmp_path_factory.mktemp("cv_sizes")
    base = TrainConfig(data=hc18_dir, out=out, role="student", epochs=1, batch=2, width_mult=0.25)
    run_cv(base, folds=2, limit=5)
    fine = TrainConfig(data=hc18_dir, out=out, role="student", epochs=1, batch=2, width_mult=0.25, tag="_small",
                       input_size=SMALL, init=out / "student_cv{fold}.pt")
    run_cv(fine, folds=2, limit=5)
    return out


def test_input_size_option_reads_hxw_and_refuses_sizes_the_nets_cannot_pool(hc18_dir: Path, tmp_path: Path) -> None:
    assert recipe(hc18_dir, tmp_path).input_size == (160, 240)
    assert recipe(hc18_dir, tmp_path, "--input-size", "256x384").input_size == (256, 384)
    with pytest.raises(ConfigError, match="multiple of 16"):
        recipe(hc18_dir, tmp_path, "--input-size", "250x384")
    with pytest.raises(ConfigError, match="HxW"):
        recipe(hc18_dir, tmp_path, "--input-size", "256")


def test_each_fold_fine_tunes_from_its_own_fold_student_at_the_new_size(cv_runs: Path) -> None:
    for k in (0, 1):
        summary = json.loads((cv_runs / f"student_small_cv{k}_summary.json").read_text())
        # fold k's own student: a shared one would have trained on this fold's held-out images
        assert summary["config"]["init"] == str(cv_runs / f"student_cv{k}.pt")
        assert checkpoint_spec(cv_runs / f"student_small_cv{k}.pt").height == SMALL[0]
        assert checkpoint_spec(cv_runs / f"student_cv{k}.pt").width == 240
    rows = json.loads((cv_runs / "cv_k2_small.json").read_text())["rows"]
    assert len(rows) == 10 and all(r["hc_mm"] is not None or r["reason"] for r in rows)


def test_cv_refuses_a_per_fold_start_that_does_not_exist(hc18_dir: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(data=hc18_dir, out=tmp_path, role="student", epochs=1, batch=2, width_mult=0.25,
                      init=tmp_path / "missing_cv{fold}.pt")
    with pytest.raises(ConfigError, match="missing_cv0.pt"):
        run_cv(cfg, folds=2, limit=5, only_fold=0)


def test_a_student_at_another_size_exports_and_the_device_runs_it_like_pytorch(hc18_dir: Path, cv_runs: Path,
                                                                               tmp_path: Path) -> None:
    ck = cv_runs / "student_small_cv0.pt"
    frames = [r.image() for r in load_split(hc18_dir, "test")[:2]]
    result = export_bundle(ck, tmp_path / "bundle", frames[:1], tol=1e-3)
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["input"]["shape"] == [1, 1, *SMALL] and manifest["preprocessing"]["size"] == list(SMALL)
    seg, reference = HeadSegmenter(tmp_path / "bundle", threads=1), torch_predict_fn(ck)
    for frame in frames:
        got, want = seg(frame).prob, reference(frame)
        assert got.shape == frame.shape[:2] and np.abs(got - want).max() < 1e-3


def test_pipeline_refuses_a_student_trained_at_another_size(cv_runs: Path) -> None:
    student = build_student(0.25)
    with pytest.raises(ModelError, match="64x96.*input_size"):
        load_state_into(student, cv_runs / "student_small_cv0.pt", "student", (160, 240))
    load_state_into(student, cv_runs / "student_small_cv0.pt", "student", SMALL)  # the matching size loads
    want = torch.load(cv_runs / "student_small_cv0.pt", weights_only=False)["state_dict"]
    assert all(torch.equal(v, want[k]) for k, v in student.state_dict().items())


def test_pipeline_task_refuses_a_malformed_input_size(data_dir: Path, tmp_path: Path) -> None:
    from compress.tasks import create_task

    for bad in ([150, 240], "160x240", [160]):
        with pytest.raises(ConfigError, match="input_size"):
            create_task("biometry", data_dir, {"input_size": bad, "cache_dir": str(tmp_path)})


def test_compare_cv_pairs_two_real_cv_runs_image_by_image(cv_runs: Path) -> None:
    from compress.biometry.compare import load_rows, paired

    base, new = load_rows(cv_runs / "cv_k2.json"), load_rows(cv_runs / "cv_k2_small.json")
    diffs, unanswered = paired(base, new)
    by = {d.group: d for d in diffs}
    answered = sum(a["hc_mm"] is not None and b["hc_mm"] is not None
                   for a, b in zip(sorted(base, key=lambda r: r["name"]), sorted(new, key=lambda r: r["name"])))
    assert by["all"].n == answered == by["fold 0"].n + by["fold 1"].n
    assert unanswered["base"] == sum(r["hc_mm"] is None for r in base)
