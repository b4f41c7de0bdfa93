"""DICOM single and multi-frame ultrasound (needs the `dicom` extra: pydicom).

Pixel spacing comes from the Sequence of Ultrasound Regions (0018,6011): the 2D region's
PhysicalDeltaX/Y with units code 3 (cm) are turned into mm per pixel. Anisotropic spacing (X and Y
differ by more than 2 %) or any other unit gives no spacing: the runtime then refuses millimetres.

The header is read first, without pixel data: a frame over edge.imageio.MAX_PIXELS is refused before anything
is decoded. Frames are then decoded one at a time as they are read (pydicom >= 3), so a long cine loop needs
the memory of one frame, not of the clip.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np

from edge.errors import InputError
from edge.imageio import check_size
from edge.sources import SOURCES
from edge.sources.base import EOS, Frame, FrameSource
from edge.sources.options import take_options

log = logging.getLogger(__name__)
OPTIONS = {"fps": (float, None)}
HELP = {"fps": "frame rate when the file has no FrameTime / CineRate"}
USAGE = ("dicom:///path/file.dcm (or a plain *.dcm path): single or multi-frame DICOM, mm per pixel from its "
         "ultrasound regions (needs the dicom extra)")
MAX_DECODED_BYTES = 96 * 2**20   # pydicom 2 only (it decodes every frame at once); pydicom 3 streams frames
UNITS_CM = 3
REGION_2D = 1


def spacing_from_dataset(ds: Any) -> float | None:
    """mm per pixel from the ultrasound regions (first 2D region in cm), else PixelSpacing, else None."""
    for region in getattr(ds, "SequenceOfUltrasoundRegions", None) or []:
        fmt = getattr(region, "RegionSpatialFormat", REGION_2D)
        ux, uy = getattr(region, "PhysicalUnitsXDirection", None), getattr(region, "PhysicalUnitsYDirection", None)
        if fmt != REGION_2D or ux != UNITS_CM or uy != UNITS_CM:
            continue
        dx, dy = abs(float(region.PhysicalDeltaX)) * 10.0, abs(float(region.PhysicalDeltaY)) * 10.0
        if dx <= 0 or abs(dx - dy) > 0.02 * dx:
            log.warning("DICOM region spacing %.4f x %.4f mm is not isotropic: no mm from this file", dx, dy)
            return None
        return (dx + dy) / 2.0
    spacing = getattr(ds, "PixelSpacing", None)
    if spacing is not None and len(spacing) == 2 and float(spacing[0]) > 0:
        return float(spacing[0])
    return None


def _to_uint8(ds: Any, frame: np.ndarray) -> np.ndarray:
    """One decoded frame as 8-bit gray or BGR. Deeper samples are scaled by their stored range (BitsStored),
    the same for every frame, so frames can be decoded one at a time."""
    if frame.dtype != np.uint8:
        top = float(2 ** int(getattr(ds, "BitsStored", 16) or 16) - 1)
        frame = np.clip(frame.astype(np.float32) * (255.0 / top), 0, 255).astype(np.uint8)
    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)   # BGR like every other source
    return frame


def _header(p: Path) -> Any:
    """The dataset without its pixel data; InputError unless it holds frames fetal-edge would decode."""
    import pydicom

    try:
        ds = pydicom.dcmread(str(p), stop_before_pixels=True)
        rows, cols = int(ds.Rows), int(ds.Columns)
    except Exception as exc:  # pydicom raises many untyped errors for bad files
        raise InputError(f"{p}: not a readable DICOM image ({type(exc).__name__}: {exc})") from None
    check_size(cols, rows, f"{p}: each frame")
    return ds


def _frame_iter(p: Path, ds: Any) -> Iterator[np.ndarray]:
    """Decoded frames (RGB for colour), one at a time with pydicom >= 3; pydicom 2 decodes the whole file, so
    it is bounded by MAX_DECODED_BYTES first."""
    try:
        from pydicom.pixels import iter_pixels
    except ImportError:   # pydicom 2 (Python 3.8 on JetPack 5)
        return _whole_file(p, ds)
    return iter_pixels(str(p))


def _whole_file(p: Path, ds: Any) -> Iterator[np.ndarray]:
    import pydicom
    from pydicom.pixel_data_handlers.util import convert_color_space

    n = int(getattr(ds, "NumberOfFrames", 1) or 1)
    size = n * int(ds.Rows) * int(ds.Columns) * int(getattr(ds, "SamplesPerPixel", 1) or 1) * \
        max(1, int(getattr(ds, "BitsAllocated", 8) or 8) // 8)
    if size > MAX_DECODED_BYTES:
        raise InputError(f"{p}: {n} frames of {ds.Columns}x{ds.Rows} decode to {size / 2**20:.0f} MB, more than "
                         f"the {MAX_DECODED_BYTES / 2**20:.0f} MB pydicom 2 can decode at once; install pydicom >= 3 "
                         "(it decodes a frame at a time) or export fewer frames")
    full = pydicom.dcmread(str(p))
    pixels = full.pixel_array
    if str(getattr(full, "PhotometricInterpretation", "")).startswith("YBR"):
        pixels = convert_color_space(pixels, str(full.PhotometricInterpretation), "RGB")
    return iter(pixels if n > 1 else pixels[None])


class DicomSource(FrameSource):
    scheme = "dicom"

    def __init__(self, uri: str, path: str, options: dict[str, Any]) -> None:
        opts = take_options(uri, options, OPTIONS)
        try:
            import pydicom  # noqa: F401
        except ImportError:
            raise InputError("DICOM input needs pydicom: pip install 'fetal-edge[dicom]'") from None
        p = Path(path)
        if not p.is_file() or p.stat().st_size == 0:
            raise InputError(f"DICOM file {p} not found or empty")
        self._ds = _header(p)   # frame size judged before any pixel is read
        self.n_frames = int(getattr(self._ds, "NumberOfFrames", 1) or 1)
        self.spacing = spacing_from_dataset(self._ds)
        frame_ms = float(getattr(self._ds, "FrameTime", 0) or 0)
        self.fps = opts["fps"] or (1000.0 / frame_ms if frame_ms > 0 else float(getattr(self._ds, "CineRate", 0) or 30))
        self.failure: str | None = None
        self._frames = _frame_iter(p, self._ds)
        self._next = self._decode_next(p)   # the first frame now: a file that cannot be decoded is refused here
        if self._next is None:
            raise InputError(f"{p}: not a readable DICOM image ({self.failure or 'no frames'})")
        super().__init__(uri, {**opts, "fps": self.fps, "frames": self.n_frames, "pixel_spacing_mm": self.spacing})
        self._index = 0

    def _decode_next(self, p: Path | str) -> np.ndarray | None:
        try:
            return _to_uint8(self._ds, next(self._frames))
        except StopIteration:
            return None
        except InputError:
            raise
        except Exception as exc:  # a frame pydicom cannot decode ends the stream; the runner reports why
            self.failure = f"{p}: frame {getattr(self, '_index', 0) + 1} cannot be decoded ({type(exc).__name__}: {exc})"
            return None

    def _read(self, timeout: float) -> Frame | None:
        image = self._next
        if image is None:
            self.state = EOS
            return None
        i = self._index
        self._index += 1
        self._next = self._decode_next(self.uri) if self._index < self.n_frames else None
        return Frame(image, i, i / self.fps, self.spacing, self.uri)

    def _close(self) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()   # releases the file iter_pixels holds open


@SOURCES.register("dicom")
def _open(uri: str, target: str, options: dict[str, Any]) -> FrameSource:
    return DicomSource(uri, target, options)


__all__ = ["DicomSource", "spacing_from_dataset"]
