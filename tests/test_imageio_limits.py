"""Issue #27 finding 3: images are judged by their header before they are decoded. A ~100 KB PNG declaring
30000x30000 pixels is refused with a clear error at a few MB of memory (before: decoded in full, ~900 MB);
the largest accepted still images decode under 300 MB; folders, videos and DICOM refuse oversize frames
before reading them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge import imageio
from edge.errors import InputError
from edge.sources import open_source
from image_fixtures import peak_memory, write_png
from test_sources_files import drain

PEAK_LIMIT_MB = 300


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_png(tmp_path_factory.mktemp("bomb") / "bomb.png", 30000, 30000, bit_depth=1)


@pytest.fixture(scope="module")
def largest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The largest images accepted, in the formats that cost the most to decode."""
    d = tmp_path_factory.mktemp("largest")
    jpeg = d / "progressive.jpg"
    cv2.imwrite(str(jpeg), np.zeros((4096, 4096, 3), np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    return {"png16_rgba": write_png(d / "rgba16.png", 4096, 4096, bit_depth=16, colour_type=6), "jpeg": jpeg}


def test_a_small_png_declaring_a_huge_image_is_refused_before_decoding(bomb: Path) -> None:
    assert bomb.stat().st_size < 200_000
    with pytest.raises(InputError, match="refused before decoding.*900000000 pixels"):
        imageio.read_gray(bomb)
    probe = peak_memory("read_gray", bomb)
    assert probe["shape"] is None and "refused before decoding" in probe["error"]
    assert probe["peak_mb"] - probe["baseline_mb"] < 20, probe


def test_one_pixel_over_the_limit_is_refused_naming_its_size(tmp_path: Path) -> None:
    path = write_png(tmp_path / "big.png", 4097, 4096)
    with pytest.raises(InputError, match="4097x4096.*refused before decoding"):
        imageio.read_color(path)
    assert imageio.read_gray(write_png(tmp_path / "ok.png", 4096, 4096)).shape == (4096, 4096)


@pytest.mark.parametrize("kind, reader", [("png16_rgba", "read_gray"), ("png16_rgba", "read_color"),
                                          ("jpeg", "read_color"), ("jpeg", "read_gray")])
def test_the_largest_accepted_image_decodes_under_300_mb(largest: dict[str, Path], kind: str, reader: str) -> None:
    probe = peak_memory(reader, largest[kind])
    assert probe["error"] is None and probe["shape"][:2] == [4096, 4096]
    assert probe["peak_mb"] < PEAK_LIMIT_MB, probe


def test_header_errors_are_clear(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(InputError, match="not a readable image"):
        imageio.read_gray(text)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(write_png(tmp_path / "whole.png", 200, 200).read_bytes()[:40])
    with pytest.raises(InputError, match="cut.png: not a readable image"):
        imageio.read_gray(truncated)


def test_a_folder_skips_the_bomb_and_plays_the_rest(tmp_path: Path, bomb: Path) -> None:
    (tmp_path / "a_bomb.png").write_bytes(bomb.read_bytes())
    cv2.imwrite(str(tmp_path / "b_frame.png"), np.full((120, 160), 90, np.uint8))
    src = open_source(str(tmp_path))
    frames = drain(src)
    assert [f.image.shape for f in frames] == [(120, 160)]
    assert src.stats.drop_reasons == {"image over the size limit": 1}


def test_a_video_declaring_oversize_frames_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (4100, 4100))
    w.write(np.zeros((4100, 4100, 3), np.uint8))
    w.release()
    with pytest.raises(InputError, match="4100x4100.*refused before decoding"):
        open_source(str(path))


def test_a_dicom_declaring_oversize_frames_is_refused_before_its_pixels(tmp_path: Path) -> None:
    pytest.importorskip("pydicom")
    from test_sources_dicom import write_dicom

    path = write_dicom(tmp_path / "cine.dcm", 2, None)
    import pydicom

    ds = pydicom.dcmread(str(path))
    ds.Rows, ds.Columns = 5000, 5000   # the header lies; the pixel data is still 2 small frames
    ds.save_as(str(path))
    with pytest.raises(InputError, match="5000x5000.*refused before decoding"):
        open_source(str(path))


def test_a_long_dicom_cine_is_decoded_a_frame_at_a_time(tmp_path: Path) -> None:
    pytest.importorskip("pydicom")
    from test_sources_dicom import write_dicom

    src = open_source(str(write_dicom(tmp_path / "cine.dcm", 12, (0.015, 0.015))))
    frames = drain(src)
    assert [int(f.image.mean()) for f in frames] == [20 * (i + 1) for i in range(12)]
