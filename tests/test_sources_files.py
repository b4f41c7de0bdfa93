"""Frame sources on real files written here: videos (good, empty, corrupt, truncated), image folders
(with corrupt / empty / differently sized images), synthetic fault injection, and the factory."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.errors import InputError
from edge.sources import EOS, open_source, split_uri


def drain(source, timeout: float = 1.0, limit: int = 10_000) -> list:
    frames = []
    while len(frames) < limit:
        f = source.read(timeout)
        if f is None:
            if source.eos:
                break
            continue
        frames.append(f)
    return frames


def write_video(path: Path, n: int = 20, size: tuple[int, int] = (160, 120), fps: float = 25.0) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert w.isOpened()
    for i in range(n):
        img = np.full((size[1], size[0], 3), 40, np.uint8)
        cv2.circle(img, (20 + 5 * i, 60), 10, (255, 255, 255), -1)
        w.write(img)
    w.release()
    return path


def test_video_file_frames_timestamps_and_eos(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", n=20, fps=25.0)
    src = open_source(str(path))
    assert src.scheme == "file" and src.options["fps"] == pytest.approx(25.0)
    frames = drain(src)
    assert len(frames) == 20
    assert src.state == EOS and src.read(0.1) is None
    assert [f.index for f in frames] == list(range(20))
    assert frames[10].timestamp == pytest.approx(10 / 25.0)
    assert frames[0].pixel_spacing_mm is None  # a video does not know its spacing
    src.close()


def test_file_uri_and_plain_path_open_the_same_video(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", n=5)
    assert len(drain(open_source(f"file://{path}"))) == 5


@pytest.mark.parametrize("content, why", [(b"", "empty"), (b"\x00garbage" * 500, "not a readable video")])
def test_empty_or_garbage_video_is_a_clear_input_error(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(InputError, match=why):
        open_source(str(path))


def test_truncated_video_gives_the_frames_it_has_then_ends(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.avi", n=40)
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    try:
        src = open_source(str(cut))
    except InputError:
        return  # refusing a truncated file up front is also acceptable: no crash, a clear error
    frames = drain(src, limit=100)
    assert src.eos
    assert 0 < len(frames) < 40


def test_missing_path_and_unknown_scheme_and_option(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        open_source(str(tmp_path / "nope.mp4"))
    with pytest.raises(InputError, match="unknown scheme 'ftp'"):
        open_source("ftp://host/x")
    with pytest.raises(InputError, match=r"unknown option\(s\) \['bogus'\]"):
        open_source("synthetic://sweep?bogus=1")
    with pytest.raises(InputError, match="not a valid int"):
        open_source("synthetic://sweep?frames=many")


def test_split_uri_keeps_rtsp_and_gst_whole() -> None:
    assert split_uri("rtsp://10.0.0.2:554/live?x=1") == ("rtsp", "rtsp://10.0.0.2:554/live?x=1", {})
    assert split_uri("gst://v4l2src ! appsink") == ("gst", "v4l2src ! appsink", {})
    assert split_uri("synthetic://sweep?frames=3")[2] == {"frames": "3"}


def test_folder_skips_corrupt_and_empty_files_and_counts_them(tmp_path: Path) -> None:
    img = np.full((100, 120), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), img)
    (tmp_path / "b.png").write_bytes(b"")                 # zero-size
    (tmp_path / "c.png").write_bytes(b"\x89PNG broken")   # corrupt
    cv2.imwrite(str(tmp_path / "d.png"), np.full((60, 200, 3), 50, np.uint8))  # another size, colour
    (tmp_path / "notes.txt").write_text("ignored")
    src = open_source(str(tmp_path))
    assert src.scheme == "folder"
    frames = drain(src)
    assert [f.image.shape for f in frames] == [(100, 120), (60, 200, 3)]
    assert src.frames_dropped == 2


def test_folder_spacing_csv_gives_each_frame_its_spacing(tmp_path: Path) -> None:
    for name in ("x.png", "y.png"):
        cv2.imwrite(str(tmp_path / name), np.full((64, 64), 80, np.uint8))
    csv = tmp_path.parent / "spacing.csv"
    csv.write_text("filename,pixel size(mm),head circumference (mm)\r\nx.png,0.12,100\r\ny.png,0.2,110\r\n")
    frames = drain(open_source(f"folder://{tmp_path}?spacing_csv={csv}"))
    assert [f.pixel_spacing_mm for f in frames] == [0.12, 0.2]


def test_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds no images"):
        open_source(str(tmp_path))


def test_synthetic_faults_stall_resize_and_blank_frames() -> None:
    src = open_source("synthetic://sweep?frames=30&stall_after=5&width=160&height=120")
    assert len([src.read(0.2) for _ in range(5)]) == 5
    assert src.read(0.05) is None and not src.eos  # a stall is not the end of the stream
    src = open_source("synthetic://sweep?frames=12&resize_at=6&blank_every=4&width=160&height=120")
    frames = drain(src)
    assert src.frames_dropped == 3 and len(frames) == 9
    assert {f.image.shape for f in frames} == {(120, 160), (90, 200)}
