"""The one interface every frame source implements (after jetson-utils' videoSource).

`read(timeout)` returns a `Frame`, or None when no frame arrived within the timeout (the caller
decides what a stall means). End of stream is a state (`source.state == EOS`), not an exception.
Frames that cannot be used (corrupt, zero-size) are counted in `frames_dropped`, never raised.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge.imageio import MAX_PIXELS

log = logging.getLogger(__name__)

# source states
OPEN = "open"          # constructed and opened, frames may follow
EOS = "eos"            # end of stream: no frame will ever follow
CLOSED = "closed"      # closed by the caller
STATES = (OPEN, EOS, CLOSED)


@dataclass(frozen=True)
class Frame:
    """One captured frame: BGR or gray uint8 pixels, when it was captured, and its spacing when known."""

    image: np.ndarray
    index: int                         # position in the stream (counts dropped frames too)
    timestamp: float                   # seconds; media time for files, monotonic capture time for live
    pixel_spacing_mm: float | None = None  # mm per pixel when the source knows it (DICOM, synthetic)
    source: str = ""


@dataclass
class SourceStats:
    frames_read: int = 0
    frames_dropped: int = 0
    drop_reasons: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str) -> None:
        self.frames_dropped += 1
        self.drop_reasons[reason] = self.drop_reasons.get(reason, 0) + 1


def usable(image: Any) -> str | None:
    """None if `image` is a usable frame, else why not (counted as a drop by the source)."""
    if not isinstance(image, np.ndarray):
        return "not an array"
    if image.size == 0 or image.ndim not in (2, 3) or min(image.shape[:2]) < 16:
        return "zero-size or tiny frame"
    if image.shape[0] * image.shape[1] > MAX_PIXELS:   # a stream that grew after its size was checked at open
        return "frame over the size limit"
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        return f"unsupported channel count {image.shape[2]}"
    if image.dtype != np.uint8:
        return f"unsupported dtype {image.dtype}"
    return None


class FrameSource(ABC):
    """Opened by `edge.sources.open_source(uri)`. Subclasses implement `_read(timeout)` and `_close()`."""

    scheme = "?"
    live = False  # True: frames arrive in real time and must never wait (a probe); False: a recording

    def __init__(self, uri: str, options: dict[str, Any]) -> None:
        self.uri = uri
        self.options = dict(options)
        self.state = OPEN
        self.stats = SourceStats()
        self._opened_at = time.monotonic()

    @property
    def frames_dropped(self) -> int:
        return self.stats.frames_dropped

    @property
    def eos(self) -> bool:
        return self.state != OPEN

    def log_open(self) -> None:
        log.info("source %s opened (%s) with options in force: %s", self.uri, self.scheme, self.options)

    def read(self, timeout: float = 1.0) -> Frame | None:
        """Next usable frame, or None on timeout or end of stream (check `state`). Never raises on bad frames."""
        if self.state != OPEN:
            return None
        deadline = time.monotonic() + max(0.0, timeout)
        while self.state == OPEN:
            frame = self._read(max(0.0, deadline - time.monotonic()))
            if frame is None:
                return None
            why = usable(frame.image)
            if why is None:
                self.stats.frames_read += 1
                return frame
            self.stats.drop(why)
            if time.monotonic() >= deadline:
                return None
        return None

    def close(self) -> None:
        if self.state != CLOSED:
            self._close()
            self.state = CLOSED

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def _read(self, timeout: float) -> Frame | None:
        """Next raw frame, None on timeout; set self.state = EOS at the end."""

    def _close(self) -> None:  # pragma: no cover - default has nothing to release
        pass
