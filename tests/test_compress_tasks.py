"""Contract every compression task adapter keeps (driven by the task registry): student output shape,
calibration frames real, deterministic and hashed, metric present, teacher checkpoints checked.

planes runs its smoke recipe (compress/configs/smoke.yaml: ~48 records, one view each, a one-epoch student),
so a fresh clone builds the small view cache it needs instead of skipping; biometry reads the data directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import yaml

from compress.paths import REPO_ROOT
from compress.stages.common import torch_predict
from compress.tasks import TASK_NAMES, create_task
from edge.errors import ConfigError, ModelError

SMOKE = yaml.safe_load((REPO_ROOT / "compress" / "configs" / "smoke.yaml").read_text())
OPTIONS = {"toy": {"n_images": 24}, "biometry": {"limit_images": 6, "input_size": [64, 96]},
           "planes": SMOKE["planes"]["task_options"]}
STUDENT = {"toy": ("tiny", 0.5), "biometry": ("ds-seg", 0.5), "planes": ("sononet-lr", 1.0)}
TEACHER = {"toy": ("tiny", 1.0), "biometry": ("unet", 0.5), "planes": (None, 1.0)}


@pytest.fixture(scope="module", params=TASK_NAMES)
def task(request: pytest.FixtureRequest, data_dir: Path):  # type: ignore[no-untyped-def]
    name = request.param
    task = create_task(name, data_dir, OPTIONS[name])
    task.name = name
    return task


def test_student_matches_the_declared_contract(task) -> None:  # type: ignore[no-untyped-def]
    info = task.info
    student = task.build_student(*STUDENT[task.name]).eval()
    out = student(torch.zeros(info.input_shape))
    if info.output_kind == "class_logits":
        assert out.shape == (1, len(info.class_names))
    else:
        assert out.shape[-2:] == info.input_shape[-2:]
    assert info.preprocessing["size"] == list(info.input_shape[-2:])


def test_calibration_is_real_deterministic_and_hashed(task) -> None:  # type: ignore[no-untyped-def]
    a, b = task.calibration(8), task.calibration(8)
    assert a.frames.shape[1:] == task.info.input_shape[1:] and 1 <= len(a.frames) <= 8
    assert a.sha256 == b.sha256 and np.array_equal(a.frames, b.frames)
    assert float(a.frames.std()) > 0.5, "real preprocessed frames, not zeros"
    assert task.calibration(4).sha256 != a.sha256


def test_metric_is_reported_and_direction_known(task) -> None:  # type: ignore[no-untyped-def]
    metrics = task.evaluate(torch_predict(task.build_student(*STUDENT[task.name])))
    assert task.info.metric in metrics
    assert task.worse_by(10.0, 9.0) == (1.0 if task.info.higher_is_better else -1.0)


def test_foreign_teacher_checkpoint_is_refused(task, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "t.pt"
    torch.save({"weight": torch.zeros(3)}, bad)
    with pytest.raises(ModelError):
        task.load_teacher(task.build_teacher(*TEACHER[task.name]), bad)


def test_a_family_of_another_task_is_refused(data_dir: Path) -> None:
    task = create_task("biometry", data_dir, OPTIONS["biometry"])
    with pytest.raises(ConfigError, match="student.family 'tiny' makes planes models"):
        import compress.tasks.toy  # noqa: F401  (registers the toy family)

        task.build_student("tiny", 1.0)
    with pytest.raises(ConfigError, match="unknown model family 'resnet'"):
        task.build_student("resnet", 1.0)


def test_unknown_task_option_is_named(data_dir: Path) -> None:
    for name in TASK_NAMES:
        with pytest.raises(ConfigError, match="typo_option"):
            create_task(name, data_dir, {"typo_option": 1})
