"""Capture decoupled from inference: a thread reads the source into a bounded queue.

A live source (a probe) is never blocked: when inference falls behind, the oldest queued frame is
dropped (and counted). A recording (file, folder, DICOM) waits instead, so every frame is analysed. A source that raises is stopped, logged and reported as ended: it never takes the process
down. `get(timeout)` returns None on timeout; `ended` says the source will give nothing more.
"""

from __future__ import annotations

import collections
import logging
import threading
import time

from edge.sources import Frame, FrameSource

log = logging.getLogger(__name__)


class CaptureThread:
    def __init__(self, source: FrameSource, queue_size: int = 4, read_timeout_s: float = 1.0) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size {queue_size} must be >= 1")
        self.source = source
        self.read_timeout_s = read_timeout_s
        self._queue: collections.deque[Frame] = collections.deque()
        self._size = queue_size
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._done = threading.Event()
        self.queue_dropped = 0
        self.captured = 0
        self.error: str | None = None
        self.last_frame_at = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="capture", daemon=True)

    def start(self) -> "CaptureThread":
        self._thread.start()
        return self

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.source.read(self.read_timeout_s)
                if frame is None:
                    if self.source.eos:
                        break
                    continue
                with self._cond:
                    while not self.source.live and len(self._queue) >= self._size and not self._stop.is_set():
                        self._cond.wait(0.1)
                    if len(self._queue) >= self._size:
                        self._queue.popleft()
                        self.queue_dropped += 1
                    self._queue.append(frame)
                    self.captured += 1
                    self.last_frame_at = time.monotonic()
                    self._cond.notify_all()
        except Exception as exc:  # a broken source must not crash the runtime: log it and end the stream
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("source %s failed: %s; ending the exam with what was captured", self.source.uri, self.error)
        finally:
            self._done.set()
            with self._cond:
                self._cond.notify_all()

    def get(self, timeout: float) -> Frame | None:
        with self._cond:
            if not self._queue and not self._done.is_set():
                self._cond.wait(timeout)
            frame = self._queue.popleft() if self._queue else None
            self._cond.notify_all()
            return frame

    @property
    def ended(self) -> bool:
        """The source will give no more frames and the queue is empty."""
        return self._done.is_set() and not self._queue

    @property
    def frames_dropped(self) -> int:
        return self.queue_dropped + self.source.frames_dropped

    def seconds_since_frame(self) -> float:
        return time.monotonic() - self.last_frame_at

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("capture thread still blocked in the source after %.1f s; abandoning it", timeout)
        else:
            self.source.close()
