"""The biometry calibration (compress.tasks.biometry.calibrate) on real HC18 val images: it picks the mask
threshold of lowest HC MAE, and a model that finds no head stops the pipeline with a CalibrationError that
names the thresholds tried and what to do, instead of shipping an arbitrary threshold."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from compress.cli import main
from compress.paths import REPO_ROOT
from compress.pipeline.workdir import StageOutcome, WorkDir
from compress.stages.common import save_module, torch_predict
from compress.tasks import create_task
from compress.tasks.base import CalibrationError, PredictFn
from compress.tasks.biometry import BiometryTask

OPTIONS = {"limit_images": 4, "input_size": [64, 96], "thresholds": [0.2, 0.5, 0.8]}
BACKGROUND_LOGIT = -20.0


@pytest.fixture(scope="module")
def task(data_dir: Path) -> BiometryTask:
    return create_task("biometry", data_dir, OPTIONS)


class BackgroundNet(torch.nn.Conv2d):
    """A student that says background everywhere, as a broken one might: a 1x1 convolution, weight 0, bias -20."""

    def __init__(self) -> None:
        super().__init__(1, 1, 1)
        with torch.no_grad():
            self.weight.zero_()
            self.bias.fill_(BACKGROUND_LOGIT)


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """Model pixels from the mask's edge: positive inside, negative outside."""
    inside = (mask >= 0.5).astype(np.uint8)
    return (cv2.distanceTransform(inside, cv2.DIST_L2, 5)
            - cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)).astype(np.float32)


def reference_predict(task: BiometryTask, edge_probability: float, pixels_per_logit: float = 2.0) -> PredictFn:
    """Soft maps made from the reference ellipses of the val images, with the reference edge at probability
    `edge_probability`: thresholding at that value gives the reference head, others a larger or smaller one."""
    offset = math.log(edge_probability / (1 - edge_probability))
    maps = {}
    for i in range(len(task.val_ds)):
        x, m = task.val_ds[i]
        maps[x.numpy().tobytes()] = signed_distance(m.numpy()[0]) / pixels_per_logit + offset

    def predict(x: np.ndarray) -> np.ndarray:
        return np.stack([maps[xi.tobytes()][None] for xi in x.astype(np.float32)])

    return predict


def test_a_model_that_finds_no_head_is_refused_naming_thresholds_and_counts(task: BiometryTask) -> None:
    before = task.postprocessing
    with pytest.raises(CalibrationError) as err:
        task.calibrate(torch_predict(BackgroundNet()))
    msg = str(err.value)
    n = len(task.records["val"])
    assert n == OPTIONS["limit_images"]
    assert f"at least {n} of the {n} val images (task_options.min_answered 0.95)" in msg
    assert "0.2: 0, 0.5: 0, 0.8: 0" in msg
    for advice in ("train longer", "task_options.thresholds", "task_options.min_answered", "--from calibrate"):
        assert advice in msg
    assert task.postprocessing is before, "nothing calibrated"


@pytest.mark.parametrize("edge_probability", [0.2, 0.8])
def test_the_threshold_at_the_reference_edge_is_chosen(task: BiometryTask, edge_probability: float) -> None:
    post = task.calibrate(reference_predict(task, edge_probability))["postprocessing"]
    maes = post["val_hc_mae_mm_by_threshold"]
    assert all(m is not None for m in maes.values()), maes
    assert post["threshold"] == edge_probability, maes
    assert maes[str(edge_probability)] < 2.0 < min(m for t, m in maes.items() if t != str(edge_probability))


def test_the_pipeline_stops_at_calibrate_with_a_clean_message_and_no_bundle(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`fetal-compress pipeline --from calibrate` on a work dir whose pruned student outputs background only (its
    prune stage measured nothing either, so the calibrate stage's accuracy gate alone, inf vs inf, would pass)."""
    recipe = REPO_ROOT / "compress" / "configs" / "biometry.yaml"
    cfg = tmp_path / "recipe.yaml"
    raw = yaml.safe_load(recipe.read_text())
    raw.update(task_options={**raw["task_options"], **OPTIONS}, card_notes=str(REPO_ROOT / raw["card_notes"]))
    cfg.write_text(yaml.safe_dump(raw))
    work, bundle = tmp_path / "work", tmp_path / "bundle"
    save_module(BackgroundNet(), WorkDir(work).path("prune"))
    WorkDir(work).record(StageOutcome("prune", "hc_mae_mm", "train", math.inf, math.inf, 0.0, 0.05))
    code = main(["pipeline", "--config", str(cfg), "--from", "calibrate", "--data", str(data_dir), "--no-progress",
                 "--work-dir", str(work), "--output", str(bundle)])
    err = capsys.readouterr().err
    assert code == CalibrationError.exit_code == 4, err
    assert err.startswith("fetal-compress: error: calibrate: no mask threshold measures the head") and \
        "Traceback" not in err, err
    assert not bundle.exists() and not WorkDir(work).path("export").exists()

