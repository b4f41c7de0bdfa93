"""One preprocessing contract: for the same frame, the input a task's training builds equals, bit for bit, the
input the device builds from the shipped manifest's preprocessing (edge.preprocess). One case per task: each
case returns (the frame, the training input for it without augmentation, the task's manifest preprocessing)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from edge.manifest import parse_preprocessing
from edge.preprocess import preprocess

Case = Callable[[Path], tuple[np.ndarray, np.ndarray, dict]]


def biometry_case(data_dir: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    from compress.biometry.dataset import HC18SegDataset
    from compress.tasks import create_task

    task = create_task("biometry", data_dir, {"limit_images": 4})
    ds = HC18SegDataset(task.records["val"], task.spec)   # what training builds, augmentation off
    frame, _ = ds.frame(2)
    return frame, ds[2][0].numpy(), task.info.preprocessing


CASES: dict[str, Case] = {"biometry": biometry_case}


@pytest.mark.parametrize("task", sorted(CASES))
def test_training_input_equals_runtime_input(task: str, data_dir: Path) -> None:
    frame, trained_on, contract = CASES[task](data_dir)
    runtime = preprocess(frame, parse_preprocessing(contract)).tensor[0]
    assert trained_on.dtype == runtime.dtype == np.float32
    assert trained_on.shape == runtime.shape
    assert np.array_equal(trained_on, runtime), f"max |difference| {np.abs(trained_on - runtime).max()}"
