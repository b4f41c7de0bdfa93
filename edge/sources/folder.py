"""A folder of still images played as a stream, sorted by file name (options: HELP below, docs/sources.md).

Optional `spacing_csv=FILE`: a CSV whose first column is a file name and second the pixel size in mm
(the HC18 `pixel_size_and_hc.csv` layout); frames then carry their own spacing. A CSV that names none of
the images is refused; images it does not name are played without a spacing (and said so).
Each image is judged by its header before it is decoded (edge.imageio): one that is unreadable or over the
size limit is skipped and counted as dropped, with its reason logged.
"""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path
from typing import Any

from edge.errors import InputError
from edge.imageio import ImageTooLargeError, read_frame
from edge.sources import SOURCES
from edge.sources.base import EOS, Frame, FrameSource
from edge.sources.options import take_options

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
log = logging.getLogger(__name__)
OPTIONS = {"fps": (float, 30.0), "realtime": (bool, False), "loop": (int, 1), "spacing_csv": (str, None)}
HELP = {"fps": "frame rate the images are played at (timestamps; with realtime, the pace)",
        "realtime": "play at fps like a live probe (frames may be dropped) instead of as fast as analysed",
        "loop": "play the folder this many times",
        "spacing_csv": "CSV of file name, pixel size in mm (one image a row, a header line allowed; the HC18 "
                       "pixel_size_and_hc.csv layout): each image then carries its own mm per pixel"}
USAGE = "folder:///path/to/images (or a plain folder path): still images sorted by name"


def read_spacing_csv(path: Path) -> dict[str, float]:
    """{file name: mm per pixel} from a CSV of file name, pixel size rows; rows without a number are skipped."""
    if not path.is_file():
        raise InputError(f"spacing_csv {path} not found (a CSV of file name, pixel size in mm)")
    out: dict[str, float] = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            for row in csv.reader(f):
                if len(row) < 2:
                    continue
                try:
                    out[Path(row[0].strip()).name] = float(row[1])
                except ValueError:
                    continue  # header line
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"spacing_csv {path} cannot be read as a UTF-8 CSV ({exc})") from None
    if not out:
        raise InputError(f"spacing_csv {path} has no row of file name, pixel size in mm (e.g. 010_HC.png,0.0799)")
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
        if self.spacing:
            missing = [p.name for p in self.files if p.name not in self.spacing]
            if len(missing) == len(self.files):
                raise InputError(f"spacing_csv {opts['spacing_csv']} names none of the {len(self.files)} images in "
                                 f"{d} (e.g. {missing[0]}): wrong CSV or folder?")
            if missing:
                log.warning("spacing_csv %s has no pixel size for %d of %d images (e.g. %s): those use the "
                            "--pixel-size or probe preset, or give no millimetres", opts["spacing_csv"],
                            len(missing), len(self.files), missing[0])
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
            try:
                image = read_frame(path)   # judged by its header first: a decompression bomb is never decoded
            except InputError as exc:
                log.warning("%s: skipped", exc)
                self.stats.drop("image over the size limit" if isinstance(exc, ImageTooLargeError)
                                else "unreadable image file")
                continue
            return Frame(image, i, ts, self.spacing.get(path.name), self.uri)
        self.state = EOS
        return None


@SOURCES.register("folder")
def _open(uri: str, target: str, options: dict[str, Any]) -> FrameSource:
    return FolderSource(uri, target, options)
