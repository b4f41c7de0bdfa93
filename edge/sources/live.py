"""Live sources: V4L2/UVC grabbers, RTSP streams and GStreamer pipelines, read by a background thread.

OpenCV's `read()` can block for ever on a dead stream, so a daemon thread owns the capture and hands
over the newest frame; `read(timeout)` waits at most `timeout` and returns None on a stall. Opening
has its own timeout too. A frame the caller did not take before the next one arrived is counted as
dropped (the probe is never blocked). `max_failures` failed grabs in a row (device unplugged, stream
ended) put the source in the EOS state.
"""

from __future__ import annotations

import glob
import threading
import time
from pathlib import Path
from typing import Any

import cv2

from edge.errors import InputError
from edge.sources import SOURCES
from edge.sources.base import EOS, Frame, FrameSource
from edge.sources.options import take_options
from edge.sources.video import check_capture_size

OPTIONS = {"open_timeout": (float, 5.0), "read_timeout": (float, 5.0), "max_failures": (int, 10),
           "width": (int, None), "height": (int, None), "fps": (float, None)}
HELP = {"open_timeout": "seconds to wait for the device or stream to open",
        "read_timeout": "seconds a read may block (rtsp) / to wait for the capture thread when closing",
        "max_failures": "failed grabs in a row that end the stream (device unplugged)",
        "width": "capture width to ask the grabber for (v4l2)", "height": "capture height (v4l2)",
        "fps": "capture frame rate to ask for (v4l2)"}
USAGE = ("v4l2:///dev/video0 (USB/HDMI grabber), rtsp://host:port/stream, gst://<pipeline ending in appsink>: "
         "live sources, never waited for")


def _gstreamer_available() -> bool:
    info = cv2.getBuildInformation()
    return any("GStreamer" in line and "YES" in line for line in info.splitlines())


class LiveSource(FrameSource):
    live = True

    def __init__(self, uri: str, scheme: str, target: str, options: dict[str, Any]) -> None:
        opts = take_options(uri, options, OPTIONS)
        self.scheme = scheme
        super().__init__(uri, opts)
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._stop = threading.Event()
        self._index = 0
        self.failure: str | None = None
        self._cap = self._open_with_timeout(scheme, target, opts)
        self._thread = threading.Thread(target=self._loop, name=f"capture-{scheme}", daemon=True)
        self._thread.start()

    def _open_with_timeout(self, scheme: str, target: str, opts: dict[str, Any]) -> cv2.VideoCapture:
        box: dict[str, Any] = {}

        def work() -> None:
            box["cap"] = _make_capture(scheme, target, opts)

        t = threading.Thread(target=work, name="capture-open", daemon=True)
        t.start()
        t.join(opts["open_timeout"])
        cap = box.get("cap")
        if t.is_alive() or cap is None:
            raise InputError(f"source {self.uri!r} did not open within {opts['open_timeout']} s "
                             "(device busy, host unreachable or stream silent)")
        if not cap.isOpened():
            cap.release()
            raise InputError(f"source {self.uri!r} could not be opened (refused, not a stream, or no signal)")
        check_capture_size(cap, f"source {self.uri!r}: each frame")
        return cap

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            ok, image = self._cap.read()
            if not ok or image is None:
                failures += 1
                self.stats.drop("failed grab")
                if failures >= self.options["max_failures"]:
                    self.failure = f"{failures} failed grabs in a row (device unplugged or stream ended)"
                    break
                time.sleep(0.01)
                continue
            failures = 0
            frame = Frame(image, self._index, time.monotonic(), None, self.uri)
            self._index += 1
            with self._cond:
                if self._latest is not None:
                    self.stats.drop("not taken in time")
                self._latest = frame
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _read(self, timeout: float) -> Frame | None:
        with self._cond:
            if self._latest is None and self._thread.is_alive():
                self._cond.wait(timeout)
            frame, self._latest = self._latest, None
        if frame is None and not self._thread.is_alive():
            self.state = EOS
        return frame

    def _close(self) -> None:
        self._stop.set()
        self._thread.join(self.options["read_timeout"])
        if not self._thread.is_alive():
            self._cap.release()  # a thread stuck in read() keeps the capture; it dies with the process


def _make_capture(scheme: str, target: str, opts: dict[str, Any]) -> cv2.VideoCapture:
    if scheme == "v4l2":
        cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
        for prop, key in ((cv2.CAP_PROP_FRAME_WIDTH, "width"), (cv2.CAP_PROP_FRAME_HEIGHT, "height"),
                          (cv2.CAP_PROP_FPS, "fps")):
            if opts[key]:
                cap.set(prop, opts[key])
        return cap
    if scheme == "gst":
        return cv2.VideoCapture(target, cv2.CAP_GSTREAMER)
    ms = int(opts["open_timeout"] * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(opts["read_timeout"] * 1000)]
    return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)


@SOURCES.register("v4l2")
def _open_v4l2(uri: str, target: str, options: dict[str, Any]) -> FrameSource:
    if not Path(target).exists():
        present = sorted(glob.glob("/dev/video*"))
        raise InputError(f"capture device {target} does not exist (unplugged?); devices present: "
                         f"{', '.join(present) or 'none'}")
    return LiveSource(uri, "v4l2", target, options)


@SOURCES.register("gst")
def _open_gst(uri: str, target: str, options: dict[str, Any]) -> FrameSource:
    if not target.strip():
        raise InputError("gst:// needs a pipeline ending in appsink, e.g. gst://v4l2src ! videoconvert ! appsink")
    if not _gstreamer_available():
        raise InputError("this OpenCV build has no GStreamer support; use v4l2:// or rtsp:// (or the "
                         "JetPack OpenCV, which has it)")
    return LiveSource(uri, "gst", target, options)


@SOURCES.register("rtsp")
def _open_rtsp(uri: str, target: str, options: dict[str, Any]) -> FrameSource:
    return LiveSource(uri, "rtsp", target, options)


@SOURCES.register("rtsps")
def _open_rtsps(uri: str, target: str, options: dict[str, Any]) -> FrameSource:
    return LiveSource(uri, "rtsps", target, options)
