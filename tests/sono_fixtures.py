"""Fixtures shared by the tests of students built from SonoNet-16 (SonoNet-S, SonoNet-LR): the published
network and real plane frames at the student's input size. Import them into a test module to use them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from compress.nets.plane_student import INPUT_HW
from compress.nets.sononet import load_sononet16
from compress.planes.augment import clean_view
from edge.imageio import read_gray


@pytest.fixture(scope="module")
def sononet(data_dir: Path) -> torch.nn.Module:
    return load_sononet16(data_dir / "peers" / "sononet" / "SonoNet16.npz")


@pytest.fixture(scope="module")
def frames(data_dir: Path) -> np.ndarray:
    """24 real plane frames at the student's input size, as uint8 views."""
    files = sorted((data_dir / "planes" / "images").glob("*.png"))[:24]
    return np.stack([clean_view(read_gray(f), INPUT_HW) for f in files])
