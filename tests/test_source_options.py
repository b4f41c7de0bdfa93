"""Issue #27 "Documented": the folder source's options (per-image pixel sizes from a CSV) and the receiver's
--no-tls are in --help and the docs, not only in docstrings; a wrong spacing CSV is a clear error."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.errors import InputError
from edge.sources import _MODULES, open_source
from test_sources_files import drain

REPO = Path(__file__).resolve().parent.parent


def help_text(*argv: str) -> str:
    out = subprocess.run([sys.executable, "-m", *argv, "--help"], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return " ".join(out.stdout.split())


def test_every_source_option_is_in_run_help_and_the_docs() -> None:
    run_help = help_text("edge", "run")
    doc = (REPO / "docs" / "sources.md").read_text(encoding="utf-8")
    for module_name in set(_MODULES.values()):
        for option in importlib.import_module(module_name).OPTIONS:
            assert f"{option}=" in run_help, (module_name, option)
            assert f"`{option}`" in doc, (module_name, option)
    assert "spacing_csv=str (default none): CSV of file name, pixel size in mm" in run_help


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "frames"
    d.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(d / name), np.full((96, 128), 80, np.uint8))
    return d


def test_spacing_csv_gives_each_image_its_pixel_size(folder: Path, tmp_path: Path) -> None:
    csv = tmp_path / "px.csv"
    csv.write_bytes(b"\xef\xbb\xbffilename,pixel size(mm)\r\na.png,0.12\r\n")   # BOM, CRLF, one image missing
    frames = drain(open_source(f"folder://{folder}?spacing_csv={csv}"))
    assert [f.pixel_spacing_mm for f in frames] == [0.12, None]


@pytest.mark.parametrize("content, says", [(b"x.png,0.1\ny.png,0.2\n", "names none of the 2 images"),
                                           (b"filename,pixel size\n", "has no row of file name, pixel size"),
                                           (b"a.png,0.1\n\xff\xfe\x00bad", "cannot be read as a UTF-8 CSV")])
def test_a_wrong_spacing_csv_is_a_clear_error(folder: Path, tmp_path: Path, content: bytes, says: str) -> None:
    csv = tmp_path / "px.csv"
    csv.write_bytes(content)
    with pytest.raises(InputError, match=says):
        open_source(f"folder://{folder}?spacing_csv={csv}")
