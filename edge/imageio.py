"""Reading still images from disk, judged by their header before a pixel is decoded.

`image_header(path)` reads only the header (Pillow's lazy `Image.open`: PNG IHDR, JPEG SOF, BMP, TIFF IFD,
...) and refuses what is not an image, is too small, or declares more than MAX_PIXELS, so a small file that
declares a huge image (a decompression bomb) never reaches the decoder. OpenCV then decodes what passed,
straight from the file (no copy of the file in memory), and conversions reuse the decoded buffer: the peak
on the largest accepted image stays under 300 MB (tests/test_imageio_limits.py, benchmarks/imageio_memory.py).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from edge.errors import InputError

MAX_PIXELS = 4096 * 4096   # 16.8 MP: above any scanner's output (4K UHD is 8.3 MP), bounded memory on a 4 GB board
MIN_SIDE = 32
FORMATS = "PNG/JPEG/BMP/TIFF"


class ImageTooLargeError(InputError):
    """The header declares more pixels than MAX_PIXELS: refused without decoding."""


@dataclass(frozen=True)
class ImageHeader:
    width: int
    height: int
    format: str   # as Pillow names it: "PNG", "JPEG", "BMP", "TIFF", ...
    mode: str     # Pillow mode: "L", "RGB", "RGBA", "I;16", ...


def check_size(width: int, height: int, what: str) -> None:
    """InputError unless a width x height frame is within MIN_SIDE and MAX_PIXELS (images, videos, DICOM)."""
    if width * height > MAX_PIXELS:
        raise ImageTooLargeError(f"{what}: declares {width}x{height} = {width * height:,} pixels, more than the "
                                 f"{MAX_PIXELS:,} (4096x4096) fetal-edge decodes; refused before decoding")
    if min(width, height) < MIN_SIDE:
        raise InputError(f"{what}: is {width}x{height}; expected at least {MIN_SIDE} px a side")


def image_header(path: str | Path) -> ImageHeader:
    """The image's size and format from its header alone; InputError for missing, empty, non-image or absurd."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:   # parses the header; pixels are decoded only on load(), never here
                header = ImageHeader(im.width, im.height, str(im.format), str(im.mode))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{path}: refused before decoding, the header declares a huge image ({exc}); "
                                 f"fetal-edge decodes at most {MAX_PIXELS:,} pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{path}: not a readable image (corrupt, truncated, or not {FORMATS}: {exc})") from None
    check_size(header.width, header.height, str(path))
    return header


def _decode(path: Path, flags: int) -> np.ndarray:
    image_header(path)
    img = cv2.imread(str(path), flags)
    if img is None or img.size == 0:
        raise InputError(f"{path}: not a readable image (corrupt, truncated, or not {FORMATS})")
    return img


def read_frame(path: str | Path) -> np.ndarray:
    """8-bit gray or BGR as the file holds it (alpha dropped, 16-bit scaled by the decoder): a folder's frames."""
    return _decode(Path(path), cv2.IMREAD_ANYCOLOR)


def read_gray(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 grayscale; InputError for missing, non-image, corrupt or absurd sizes.

    The decoder converts colour to gray row by row (no full-size colour copy); 16-bit is divided by 257 in place.
    """
    img = _decode(Path(path), cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH)
    if img.dtype == np.uint16:
        np.floor_divide(img, 257, out=img)
        img = img.astype(np.uint8)
    return img


def read_color(path: str | Path) -> np.ndarray:
    """Read as BGR uint8 (for checks that need colour, e.g. Doppler detection)."""
    return _decode(Path(path), cv2.IMREAD_COLOR)
