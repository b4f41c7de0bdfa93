"""DICOM single and multi-frame ultrasound (needs the `dicom` extra: pydicom).

Pixel spacing comes from the Sequence of Ultrasound Regions (0018,6011): the 2D region's
PhysicalDeltaX/Y with units code 3 (cm) are turned into mm per pixel. Anisotropic spacing (X and Y
differ by more than 2 %) or any other unit gives no spacing: the runtime then refuses millimetres.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import InputError
from edge.sources import SOURCES
from edge.sources.base import EOS, Frame, FrameSource
from edge.sources.options import take_options

log = logging.getLogger(__name__)
OPTIONS = {"fps": (float, None)}
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


def _to_uint8_frames(ds: Any, pixels: np.ndarray) -> np.ndarray:
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    colour = int(getattr(ds, "SamplesPerPixel", 1) or 1) == 3
    if frames == 1:
        pixels = pixels[None]
    if colour and str(getattr(ds, "PhotometricInterpretation", "")).startswith("YBR"):
        from pydicom.pixels import convert_color_space

        pixels = convert_color_space(pixels, str(ds.PhotometricInterpretation), "RGB")
    if pixels.dtype != np.uint8:
        hi = float(pixels.max()) or 1.0
        pixels = np.clip(pixels.astype(np.float32) * (255.0 / hi), 0, 255).astype(np.uint8)
    if colour:
        pixels = np.ascontiguousarray(pixels[..., ::-1])  # RGB -> BGR like every other source
    return pixels


class DicomSource(FrameSource):
    scheme = "dicom"

    def __init__(self, uri: str, path: str, options: dict[str, Any]) -> None:
        opts = take_options(uri, options, OPTIONS)
        try:
            import pydicom
        except ImportError:
            raise InputError("DICOM input needs pydicom: pip install 'fetal-edge[dicom]'") from None
        p = Path(path)
        if not p.is_file() or p.stat().st_size == 0:
            raise InputError(f"DICOM file {p} not found or empty")
        try:
            ds = pydicom.dcmread(str(p))
            pixels = ds.pixel_array
        except Exception as exc:  # pydicom raises many untyped errors for bad files
            raise InputError(f"{p}: not a readable DICOM image ({type(exc).__name__}: {exc})") from None
        self.frames = _to_uint8_frames(ds, pixels)
        self.spacing = spacing_from_dataset(ds)
        frame_ms = float(getattr(ds, "FrameTime", 0) or 0)
        self.fps = opts["fps"] or (1000.0 / frame_ms if frame_ms > 0 else float(getattr(ds, "CineRate", 0) or 30))
        super().__init__(uri, {**opts, "fps": self.fps, "frames": len(self.frames), "pixel_spacing_mm": self.spacing})
        self._index = 0

    def _read(self, timeout: float) -> Frame | None:
        if self._index >= len(self.frames):
            self.state = EOS
            return None
        i = self._index
        self._index += 1
        return Frame(self.frames[i], i, i / self.fps, self.spacing, self.uri)


@SOURCES.register("dicom")
def _open(uri: str, target: str, options: dict[str, Any]) -> FrameSource:
    return DicomSource(uri, target, options)


__all__ = ["DicomSource", "spacing_from_dataset"]
