"""The shipped head-seg model: export matches PyTorch, checksum refuses altered files, HC on held-out subjects."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from compress.biometry.dataset import PREPROCESSING, preprocessing
from compress.biometry.evaluate import evaluate
from compress.biometry.export import ONNX_TOLERANCE, export_onnx, max_onnx_diff
from compress.data.hc18 import load_split
from compress.nets.segnet import build_student, build_teacher, count_params
from edge.biometry.measure import measure_head
from edge.biometry.segment import HeadSegmenter
from edge.errors import ModelError
from edge.models import load_model, shipped_model_dir



@pytest.fixture(scope="module")
def test_records(hc18_dir):
    return load_split(hc18_dir, "test")


def test_networks_build_with_the_promised_sizes():
    assert count_params(build_student()) < 500_000
    assert count_params(build_student(1.5)) < 500_000
    x = torch.zeros(1, 1, *PREPROCESSING["size"])
    assert build_student(0.5).eval()(x).shape == x.shape
    assert build_teacher(8).eval()(x).shape == x.shape


def test_onnx_export_matches_pytorch(tmp_path, test_records):
    torch.manual_seed(0)
    model = build_student(1.0).eval()
    path = export_onnx(model, tmp_path / "m.onnx", *PREPROCESSING["size"])
    diff = max_onnx_diff(model, path, [r.image() for r in test_records[:3]])
    assert diff <= ONNX_TOLERANCE


def test_shipped_manifest_carries_the_training_contract():
    m = load_model("head-seg").manifest
    size = tuple(m.raw["preprocessing"]["size"])
    assert m.raw["preprocessing"] == preprocessing(size)  # training and runtime share one contract
    assert m.input_shape == (1, 1, *size) and m.output_kind == "segmentation_logits"
    assert m.model_path.stat().st_size <= 2 * 1024 * 1024
    assert "test" in m.raw["provenance"]["split"] and m.raw["metrics"]["eval_split"] == "test"
    assert (m.directory / "MODEL_CARD.md").is_file()


@pytest.mark.parametrize("damage", ["truncate", "flip_byte"])
def test_altered_model_is_refused(tmp_path, damage):
    bundle = tmp_path / "head-seg"
    shutil.copytree(shipped_model_dir("head-seg"), bundle)
    data = (bundle / "model.onnx").read_bytes()
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data = data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:]
    (bundle / "model.onnx").write_bytes(data)
    with pytest.raises(ModelError, match="reinstall"):
        load_model(bundle)


def test_shipped_model_measures_held_out_heads(test_records):
    """First 12 held-out test images (test subjects never used in training or model choice).

    Answers flagged "ok" must be within 5 % of the reference HC; none may be off by more than 15 % (a gross
    failure); 007_HC, the hardest of them (1.1.0 leaked into the amniotic fluid there and was refused), must
    be refused or flagged low quality (1.2.0: +9 %, 1.3.0: +5 %, both flagged); every frame gets an answer or a
    reason, and the mean error must stay within 2.5 mm (1.2.0 measured 1.58 mm, 1.3.0 1.86 mm; whole test set
    2.25 / 2.28 mm)."""
    seg = HeadSegmenter("head-seg", threads=1)
    errors, refused, flags = [], [], {}
    for r in test_records[:12]:
        res = measure_head(seg(r.image()).prob, r.pixel_mm, seg.ref)
        if res.status != "measured":
            refused.append(r.name)
            assert res.hc.value is None and res.reason
            continue
        assert res.hc.model == seg.ref
        err = res.hc.value - r.hc_mm
        errors.append(err)
        flags[r.name] = res.hc.flag
        assert abs(err) <= 0.15 * r.hc_mm, (r.name, err)
        if res.hc.flag == "ok":
            assert abs(err) <= 0.05 * r.hc_mm, (r.name, err)
    assert "007_HC" in refused or flags["007_HC"] == "low_quality"
    assert len(refused) <= 1, refused
    assert np.abs(errors).mean() <= 2.5, errors


def test_evaluate_with_reference_masks_is_near_perfect(hc18_dir):
    recs = {hashlib.sha1(r.image().tobytes()).hexdigest(): r for r in load_split(hc18_dir, "test")[:6]}
    oracle = lambda frame: recs[hashlib.sha1(frame.tobytes()).hexdigest()].mask().astype(np.float32)  # noqa: E731
    m = evaluate(oracle, "test", hc18_dir, limit=6)
    assert m["n_images"] == 6 and m["no_answer"] == 0
    assert m["dice_mean"] > 0.99 and m["hc_mae_mm"] < 0.3 and m["bpd_mae_mm"] < 0.5


def test_distance_weights_grow_with_distance_from_the_true_outline():
    from compress.biometry.train import dice_bce, distance_weights

    mask = torch.zeros(1, 1, 40, 60)
    mask[..., 10:30, 15:45] = 1.0
    w = distance_weights(mask, extra=3.0, cap_px=8.0)
    assert w[0, 0, 10, 30] == pytest.approx(1.0)            # on the outline
    assert w[0, 0, 20, 30] > w[0, 0, 12, 30] > 1.0          # deeper inside weighs more
    assert w.max() == pytest.approx(4.0)                    # 1 + extra, reached at the cap
    # a leak 6 px past the outline costs more than the same number of wrong pixels right at the edge
    logits = torch.where(mask > 0.5, 6.0, -6.0)
    leak, edge = logits.clone(), logits.clone()
    leak[..., 10:30, 50:52] = 6.0          # 2 columns, 5-6 px outside
    edge[..., 10:30, 45:47] = 6.0          # 2 columns, 0-1 px outside
    assert dice_bce(leak, mask, w) > dice_bce(edge, mask, w)
    assert dice_bce(leak, mask) == pytest.approx(dice_bce(edge, mask).item(), rel=1e-4)


def test_cross_validation_measures_every_dev_image_once_grouped_by_subject(hc18_dir, tmp_path):
    from compress.biometry.crossval import run_cv, subject_fold
    from compress.biometry.train import TrainConfig

    cfg = TrainConfig(data=hc18_dir, out=tmp_path, role="student", epochs=1, batch=2, width_mult=0.25)
    result = run_cv(cfg, folds=2, limit=5)
    rows = result["rows"]
    dev = {r.name: r for split in ("train", "val") for r in load_split(hc18_dir, split)[:5]}
    assert sorted(row["name"] for row in rows) == sorted(dev)          # each dev image once, no test image
    for row in rows:
        assert row["fold"] == subject_fold(dev[row["name"]].subject, 2)   # a subject's images share a fold
        assert row["hc_mm"] is not None or row["reason"]                # a number, or why not
    s = result["summary"]
    assert s["n_images"] == 10 and s["folds"] == 2
    assert (tmp_path / "cv_k2.json").is_file() and (tmp_path / "student_cv1.pt").is_file()


def test_cross_validation_resumes_finished_folds_and_runs_one_fold_alone(hc18_dir, tmp_path):
    """Folds on separate cores (`--fold`), then one plain run gathers them: a fold is trained once per recipe."""
    from compress.biometry.crossval import run_cv
    from compress.biometry.train import TrainConfig

    cfg = TrainConfig(data=hc18_dir, out=tmp_path, role="student", epochs=1, batch=2, width_mult=0.25)
    alone = run_cv(cfg, folds=2, limit=5, only_fold=1)
    assert {row["fold"] for row in alone["rows"]} == {1} and not (tmp_path / "cv_k2.json").exists()
    fold1 = tmp_path / "student_cv1.pt"
    stamp = fold1.stat().st_mtime_ns
    full = run_cv(cfg, folds=2, limit=5)
    assert fold1.stat().st_mtime_ns == stamp                         # reused, not trained again
    assert (tmp_path / "student_cv0.pt").is_file() and (tmp_path / "cv_k2.json").is_file()
    assert [r for r in full["rows"] if r["fold"] == 1] == alone["rows"]
    run_cv(replace(cfg, epochs=2), folds=2, limit=5, only_fold=1)     # another recipe: trained again
    assert fold1.stat().st_mtime_ns != stamp
    with pytest.raises(ValueError, match="does not exist"):
        run_cv(cfg, folds=2, limit=5, only_fold=2)


def test_recipe_seed_reaches_the_training_config(hc18_dir, tmp_path):
    """cv-biometry on several seeds is how run-to-run noise is told from a recipe's effect."""
    import argparse

    from compress.biometry.train import TrainConfig
    from compress.commands.train_biometry import add_recipe_arguments, recipe_options

    p = argparse.ArgumentParser()
    add_recipe_arguments(p)
    p.add_argument("--out", type=Path, default=tmp_path)
    for argv, seed in (([], 0), (["--seed", "3"], 3)):
        cfg = TrainConfig(**recipe_options(p.parse_args(["--data", str(hc18_dir.parent), *argv])))
        assert cfg.seed == seed
