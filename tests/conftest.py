"""Shared fixtures. Real data is read from $FETAL_EDGE_DATA or ../shared/data (never copied here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("FETAL_EDGE_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA / "README.md").is_file():
        pytest.skip(f"real data not found at {DATA}; set FETAL_EDGE_DATA to the shared data folder")
    return DATA


@pytest.fixture(scope="session")
def hc18_dir(data_dir: Path) -> Path:
    return data_dir / "hc18"


@pytest.fixture(scope="session")
def planes_dir(data_dir: Path) -> Path:
    return data_dir / "planes"


# `make test-device` (FETAL_EDGE_DEVICE_TESTS=1): only the test modules a device install can run
# (tests/device_selection.py), under each Python the supported JetPacks ship (3.8, 3.10).
DEVICE_TESTS_ONLY = os.environ.get("FETAL_EDGE_DEVICE_TESTS") == "1"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if DEVICE_TESTS_ONLY and collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        from tests.device_selection import needs_workstation

        return needs_workstation(collection_path) or None
    return None
