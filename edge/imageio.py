"""Reading still images from disk, with errors that say what is wrong with the file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.errors import InputError

MAX_PIXELS = 50_000_000
MIN_SIDE = 32


def read_gray(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 grayscale; InputError for missing, non-image, corrupt or absurd sizes."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(f"{path}: not a readable image (corrupt, truncated, or not PNG/JPEG/BMP/TIFF)")
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    if img.dtype == np.uint16:
        img = (img / 257).astype(np.uint8)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    h, w = img.shape[:2]
    if min(h, w) < MIN_SIDE or h * w > MAX_PIXELS:
        raise InputError(f"{path}: image is {w}x{h}; expected at least {MIN_SIDE} px a side and at most {MAX_PIXELS} pixels")
    return img


def read_color(path: str | Path) -> np.ndarray:
    """Read as BGR uint8 (for checks that need colour, e.g. Doppler detection)."""
    path = Path(path)
    gray_check = read_gray(path)  # validates
    img = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_COLOR)
    return img if img is not None else cv2.cvtColor(gray_check, cv2.COLOR_GRAY2BGR)
