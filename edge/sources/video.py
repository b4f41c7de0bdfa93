"""Video files (`file://` or a plain path), decoded by OpenCV's ffmpeg backend.

The frame size the container declares is judged before any frame is read (edge.imageio.MAX_PIXELS).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2

from edge.errors import InputError
from edge.imageio import check_size
from edge.sources import SOURCES
from edge.sources.base import EOS, Frame, FrameSource
from edge.sources.options import take_options

OPTIONS = {"realtime": (bool, False), "max_failures": (int, 25), "fps": (float, None)}
HELP = {"realtime": "pace frames at their media time like a live probe (frames may be dropped)",
        "max_failures": "undecodable frames in a row that end the stream",
        "fps": "frame rate when the file's own is missing or wrong"}
USAGE = "file:///path/exam.mp4 (or a plain path): a video file, decoded by ffmpeg"


def check_capture_size(cap: cv2.VideoCapture, what: str) -> None:
    """Refuse (and release) a capture whose declared frame size is over the limit, before a frame is read.
    A size of 0 means the backend does not know it yet; frames are then judged as they come (FrameSource)."""
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
    if w > 0 and h > 0:
        try:
            check_size(w, h, what)
        except InputError:
            cap.release()
            raise


class VideoFileSource(FrameSource):
    """Frames of a video file in order. A read that fails inside the file counts as a dropped frame;
    `max_failures` failures in a row (or the last frame) is the end of the stream."""

    scheme = "file"

    def __init__(self, uri: str, path: str, options: dict[str, Any]) -> None:
        opts = take_options(uri, options, OPTIONS)
        p = Path(path)
        if not p.is_file():
            raise InputError(f"video file {p} not found; give an existing video, an image folder or a device URI")
        if p.stat().st_size == 0:
            raise InputError(f"video file {p} is empty (0 bytes)")
        self._cap = cv2.VideoCapture(str(p), cv2.CAP_FFMPEG)
        if not self._cap.isOpened():
            self._cap.release()
            raise InputError(f"{p}: not a readable video (corrupt, truncated, or a codec ffmpeg lacks)")
        check_capture_size(self._cap, f"{p}: each video frame")
        native = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = opts["fps"] or (native if 0 < native < 1000 else 30.0)
        self.n_frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.live = bool(opts["realtime"])  # paced like a probe: treated as live (drop, never wait)
        super().__init__(uri, {**opts, "fps": self.fps, "frames": self.n_frames})
        self._realtime = opts["realtime"]
        self._max_failures = max(1, opts["max_failures"])
        self._index = 0
        self._t0 = time.monotonic()

    def _read(self, timeout: float) -> Frame | None:
        failures = 0
        while True:
            ok, image = self._cap.read()
            if ok and image is not None:
                break
            failures += 1
            self._index += 1
            past_end = self.n_frames > 0 and self._index >= self.n_frames
            if past_end or failures >= self._max_failures:
                self.state = EOS
                return None
            self.stats.drop("undecodable frame")
        ts = self._index / self.fps
        if self._realtime:  # pace like a live probe: not before the frame's media time
            time.sleep(min(max(0.0, self._t0 + ts - time.monotonic()), 1.0))
        frame = Frame(image, self._index, ts, None, self.uri)
        self._index += 1
        return frame

    def _close(self) -> None:
        self._cap.release()


@SOURCES.register("file")
def _open(uri: str, target: str, options: dict[str, Any]) -> FrameSource:
    return VideoFileSource(uri, target, options)
