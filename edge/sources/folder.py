"""A folder of still images played as a stream, sorted by file name.

Optional `spacing_csv=FILE`: a CSV whose first column is a file name and second the pixel size in mm
(the HC18 `pixel_size_and_hc.csv` layout); frames then carry their own spacing.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.errors import InputError
from edge.sources import SOURCES
from edge.sources.base import EOS, Frame, FrameSource
from edge.sources.options import take_options

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
OPTIONS = {"fps": (float, 30.0), "realtime": (bool, False), "loop": (int, 1), "spacing_csv": (str, None)}


def read_spacing_csv(path: Path) -> dict[str, float]:
    if not path.is_file():
        raise InputError(f"spacing_csv {path} not found")
    out: dict[str, float] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            if len(row) < 2:
                continue
            try:
                out[row[0].strip()] = float(row[1])
            except ValueError:
                continue  # header line
    return out


class FolderSource(FrameSource):
    scheme = "folder"

    def __init__(self, uri: str, path: str, options: dict[str, Any]) -> None:
        opts = take_options(uri, options, OPTIONS)
        d = Path(path)
        if not d.is_dir():
            raise InputError(f"image folder {d} not found")
        self.files = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self.files:
            raise InputError(f"image folder {d} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        if opts["fps"] <= 0:
            raise InputError(f"source {uri!r}: fps must be > 0, got {opts['fps']}")
        self.spacing = read_spacing_csv(Path(opts["spacing_csv"])) if opts["spacing_csv"] else {}
        self.live = bool(opts["realtime"])  # paced like a probe: treated as live (drop, never wait)
        super().__init__(uri, {**opts, "images": len(self.files)})
        self._total = len(self.files) * max(1, opts["loop"])
        self._index = 0
        self._t0 = time.monotonic()

    def _read(self, timeout: float) -> Frame | None:
        while self._index < self._total:
            i = self._index
            self._index += 1
            path = self.files[i % len(self.files)]
            ts = i / self.options["fps"]
            if self.options["realtime"]:
                time.sleep(min(max(0.0, self._t0 + ts - time.monotonic()), 1.0))
            image = _decode(path)
            if image is None:
                self.stats.drop("unreadable image file")
                continue
            return Frame(image, i, ts, self.spacing.get(path.name), self.uri)
        self.state = EOS
        return None


def _decode(path: Path) -> np.ndarray | None:
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


@SOURCES.register("folder")
def _open(uri: str, target: str, options: dict[str, Any]) -> FrameSource:
    return FolderSource(uri, target, options)
