"""Ultrasound sector / region of interest, and blanking of everything outside it.

Burnt-in patient names, dates, IDs and the scanner's UI live outside the imaging sector. The sector
is the largest bright connected region (found on a 4x smaller copy, closed), joined by the other large
regions lying in the same columns (a linear-probe image split by a dark band of fluid), and filled by
the convex hull (the fan of convex and phased-array probes is convex). Text panels and UI sit beside
the image, in other columns, and are left out. Everything outside it is set to 0
before a frame is shown, recorded or handed on, so no burnt-in text leaves the device.
If no region large enough is found, the whole frame is kept (`found=False`) and callers may refuse
to record it (`RoiTracker.safe`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.errors import ConfigError
from edge.preprocess import to_gray

DOWNSCALE = 4


@dataclass(frozen=True)
class Roi:
    mask: np.ndarray            # uint8 (H, W), 1 inside the sector
    bbox: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    found: bool                 # False: no sector found, mask covers the whole frame
    area_fraction: float


def detect_roi(frame: np.ndarray, threshold: int = 12, min_area_fraction: float = 0.12) -> Roi:
    """The imaging sector of one frame (gray or BGR uint8)."""
    gray = to_gray(frame)
    h, w = gray.shape
    small = cv2.resize(gray, (max(1, w // DOWNSCALE), max(1, h // DOWNSCALE)), interpolation=cv2.INTER_AREA)
    binary = (small > threshold).astype(np.uint8)
    binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
        return _whole(h, w)
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[best, cv2.CC_STAT_AREA] < min_area_fraction * small.size:
        return _whole(h, w)
    keep = [best] + [i for i in range(1, n) if i != best and stats[i, cv2.CC_STAT_AREA] >= 0.02 * small.size
                     and _column_overlap(stats[best], stats[i]) >= 0.6]
    contours, _ = cv2.findContours(np.isin(labels, keep).astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(np.concatenate(contours)).astype(np.float32) * DOWNSCALE + DOWNSCALE / 2.0
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, np.round(hull).astype(np.int32), 1)
    x, y, bw, bh = cv2.boundingRect(mask)
    return Roi(mask, (x, y, bw, bh), True, float(mask.mean()))


def _column_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of component b's columns that lie within component a's columns."""
    a0, a1 = a[cv2.CC_STAT_LEFT], a[cv2.CC_STAT_LEFT] + a[cv2.CC_STAT_WIDTH]
    b0, b1 = b[cv2.CC_STAT_LEFT], b[cv2.CC_STAT_LEFT] + b[cv2.CC_STAT_WIDTH]
    return max(0, min(a1, b1) - max(a0, b0)) / max(1, b1 - b0)


def _whole(h: int, w: int) -> Roi:
    return Roi(np.ones((h, w), np.uint8), (0, 0, w, h), False, 1.0)


def blank_outside(frame: np.ndarray, roi: Roi) -> np.ndarray:
    """A copy of `frame` with every pixel outside the sector set to 0 (gray or BGR)."""
    if frame.shape[:2] != roi.mask.shape:
        raise ValueError(f"frame {frame.shape[:2]} and ROI mask {roi.mask.shape} differ in size")
    mask = roi.mask if frame.ndim == 2 else roi.mask[:, :, None]
    return frame * mask


class RoiTracker:
    """Re-detects the sector every `every` frames and at once when the frame size changes."""

    def __init__(self, every: int = 30, threshold: int = 12, min_area_fraction: float = 0.12) -> None:
        if every < 1:
            raise ConfigError(f"preprocess.roi_every = {every}: must be >= 1 frame")
        self.every, self.threshold, self.min_area_fraction = every, threshold, min_area_fraction
        self.roi: Roi | None = None
        self._age = 0

    def update(self, frame: np.ndarray) -> Roi:
        stale = self.roi is None or self.roi.mask.shape != frame.shape[:2] or self._age >= self.every
        if stale:
            self.roi = detect_roi(frame, self.threshold, self.min_area_fraction)
            self._age = 0
        self._age += 1
        return self.roi

    @property
    def safe(self) -> bool:
        """True when a sector was found, so blanking removed what lies outside it."""
        return bool(self.roi and self.roi.found)
