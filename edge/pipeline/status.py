"""Live status (one line on stderr) and the overlay drawn on recorded frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.errors import InputError
from edge.results import Measurement


@dataclass
class Status:
    frames: int = 0
    dropped: int = 0
    fps: float = 0.0
    plane: str = "-"
    brain_plane: str | None = None
    confidence: float = 0.0
    measurements: dict[str, Measurement] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)   # alert rules the measurements so far raise

    def line(self) -> str:
        plane = f"{self.plane}/{self.brain_plane}" if self.brain_plane else self.plane
        meas = " ".join(f"{k.upper()} {m.value:.1f}{m.unit}" if m.value is not None else f"{k.upper()} -"
                        for k, m in self.measurements.items()) or "no measurement yet"
        alerts = f" | ALERT {', '.join(self.alerts)}" if self.alerts else ""
        return (f"{self.fps:5.1f} fps | frames {self.frames} dropped {self.dropped} | {plane} "
                f"({self.confidence:.2f}) | {meas}{alerts}")


def draw_overlay(frame: np.ndarray, status: Status) -> np.ndarray:
    """BGR copy of a (blanked) frame with the plane and measurements so far written on it."""
    img = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame[:, :, :3].copy()
    lines = [f"{status.plane}{'/' + status.brain_plane if status.brain_plane else ''} {status.confidence:.2f}",
             f"{status.fps:.0f} fps"]
    lines += [f"{k.upper()} {m.value:.1f} {m.unit} ({m.flag})" for k, m in status.measurements.items()
              if m.value is not None]
    for i, text in enumerate(lines):
        cv2.putText(img, text, (10, img.shape[0] - 12 - 20 * (len(lines) - 1 - i)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5, (0, 255, 255), 1, cv2.LINE_AA)
    return img


class Recorder:
    """mp4 overlay video; frames of another size are resized to the first frame's size."""

    def __init__(self, path: str | Path, fps: float = 30.0) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in (".mp4", ".avi"):
            raise InputError(f"--record {self.path}: use a .mp4 or .avi file name")
        if not self.path.parent.is_dir():
            raise InputError(f"--record {self.path}: folder {self.path.parent} does not exist")
        self.fps = fps
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, bgr: np.ndarray) -> None:
        if self._writer is None:
            self._size = (bgr.shape[1], bgr.shape[0])
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix.lower() == ".mp4" else "MJPG"))
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, self._size)
            if not self._writer.isOpened():
                raise InputError(f"--record {self.path}: OpenCV cannot write this file")
        if (bgr.shape[1], bgr.shape[0]) != self._size:
            bgr = cv2.resize(bgr, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(bgr)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
