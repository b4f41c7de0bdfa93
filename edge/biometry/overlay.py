"""Overlay PNG a clinician can check: fitted ellipse, BPD / OFD calipers (outer-to-outer), numbers in mm."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.biometry.measure import HeadResult
from edge.errors import InputError
from edge.preprocess import to_gray

ELLIPSE_BGR, BPD_BGR, OFD_BGR, TEXT_BGR, BAD_BGR = (0, 220, 255), (80, 255, 80), (255, 200, 60), (255, 255, 255), (60, 60, 255)


def _caliper(img: np.ndarray, ends: np.ndarray, colour: tuple[int, int, int], size: int) -> None:
    p, q = (tuple(int(round(v)) for v in e) for e in ends)
    cv2.line(img, p, q, colour, 1, cv2.LINE_AA)
    for e in (p, q):
        cv2.drawMarker(img, e, colour, cv2.MARKER_CROSS, size, 2, cv2.LINE_AA)


def _text(img: np.ndarray, lines: list[tuple[str, tuple[int, int, int]]], scale: float) -> None:
    """Lines of text on a darkened panel in the top-left corner (readable over burnt-in scanner text)."""
    fs, step = 0.6 * scale, int(24 * scale)
    width = max(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, fs, 1)[0][0] for t, _ in lines) + 16
    height = step * len(lines) + int(10 * scale)
    panel = img[:height, :width]
    panel[:] = (panel * 0.25).astype(img.dtype)
    y = int(20 * scale)
    for line, colour in lines:
        cv2.putText(img, line, (8, y), cv2.FONT_HERSHEY_SIMPLEX, fs, colour, 1, cv2.LINE_AA)
        y += step


def render_overlay(frame: np.ndarray, result: HeadResult, extra: list[str] | None = None) -> np.ndarray:
    """BGR image: the frame with the ellipse, calipers and the numbers (or the no-measurement reason)."""
    img = cv2.cvtColor(to_gray(frame), cv2.COLOR_GRAY2BGR)
    scale = max(0.6, min(img.shape[:2]) / 540)
    if result.ellipse is None:
        _text(img, [("NO MEASUREMENT", BAD_BGR), (result.reason or "", BAD_BGR)], scale)
        return img
    e = result.ellipse
    s = 16
    cv2.ellipse(img, (round(e.cx * s), round(e.cy * s)), (round(e.a * s), round(e.b * s)), e.angle_deg, 0, 360,
                ELLIPSE_BGR, 1, cv2.LINE_AA, shift=4)
    major, minor = e.axis_endpoints()
    _caliper(img, minor, BPD_BGR, int(12 * scale))
    _caliper(img, major, OFD_BGR, int(12 * scale))
    lines = [(f"HC  {result.hc.value:.1f} mm", ELLIPSE_BGR),
             (f"BPD {result.bpd.value:.1f} mm (outer-outer)", BPD_BGR),
             (f"OFD {result.ofd.value:.1f} mm", OFD_BGR),
             (f"quality {result.quality:.2f} [{result.hc.flag}]", TEXT_BGR if result.hc.flag == "ok" else BAD_BGR)]
    lines += [(t, TEXT_BGR) for t in (extra or [])]
    _text(img, lines, scale)
    return img


def write_overlay(path: str | Path, frame: np.ndarray, result: HeadResult, extra: list[str] | None = None) -> Path:
    path = Path(path)
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise InputError(f"overlay path {path} must end in .png or .jpg")
    if not path.parent.is_dir():
        raise InputError(f"overlay folder {path.parent} does not exist")
    if not cv2.imwrite(str(path), render_overlay(frame, result, extra)):
        raise InputError(f"could not write overlay to {path}")
    return path
