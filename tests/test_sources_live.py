"""Live sources that are not there: an absent V4L2 device, an RTSP URL on a closed local port, a
GStreamer pipeline on an OpenCV without GStreamer. Each is a clear InputError, quickly, never a hang."""

from __future__ import annotations

import socket
import time

import pytest

from edge.errors import InputError
from edge.sources import open_source


def test_missing_v4l2_device_names_what_is_present() -> None:
    with pytest.raises(InputError, match=r"/dev/video97 does not exist \(unplugged\?\); devices present"):
        open_source("v4l2:///dev/video97")


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_rtsp_on_closed_port_fails_within_the_open_timeout() -> None:
    t = time.monotonic()
    with pytest.raises(InputError, match="rtsp://127.0.0.1"):
        open_source(f"rtsp://127.0.0.1:{_closed_port()}/live", open_timeout=2.0, read_timeout=1.0)
    assert time.monotonic() - t < 10.0  # bounded by the open timeout (+ thread start), not a hang


def test_rtsp_silent_server_times_out() -> None:
    """A port that accepts but never answers: the open gives up after open_timeout."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        t = time.monotonic()
        with pytest.raises(InputError):
            open_source(f"rtsp://127.0.0.1:{port}/live", open_timeout=1.5, read_timeout=1.0)
        assert time.monotonic() - t < 10.0
    finally:
        srv.close()


def test_gst_pipeline_without_gstreamer_or_empty_is_refused() -> None:
    with pytest.raises(InputError, match="gst:// needs a pipeline"):
        open_source("gst://")
    import cv2

    if "GStreamer:                   NO" in cv2.getBuildInformation():
        with pytest.raises(InputError, match="no GStreamer support"):
            open_source("gst://videotestsrc ! appsink")


def test_v4l2_path_that_is_not_a_capture_device() -> None:
    with pytest.raises(InputError, match="could not be opened"):
        open_source("v4l2:///dev/null", open_timeout=3.0)


def test_live_reader_thread_on_a_stream_that_ends(tmp_path) -> None:
    """The threaded live reader over a real (file) stream: frames not taken in time are dropped and
    counted, a read past the end times out instead of hanging, and the stream ending is EOS + failure."""
    from test_sources_files import write_video

    from edge.sources.live import LiveSource

    path = write_video(tmp_path / "stream.mp4", n=30)
    src = LiveSource(f"rtsp-test://{path}", "rtsp", str(path), {"max_failures": 3})
    time.sleep(0.5)              # the probe keeps sending while nobody reads
    first = src.read(1.0)
    assert first is not None and first.index > 0
    assert src.frames_dropped >= 1
    t = time.monotonic()
    while not src.eos and time.monotonic() - t < 5.0:
        src.read(0.2)
    assert src.eos and "failed grabs" in (src.failure or "")
    assert src.read(0.1) is None
    src.close()
