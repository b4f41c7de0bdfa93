"""Ellipses in frame pixel coordinates: robust fitting to boundary points, perimeter, rasterising.

Convention: `a` is the semi-major axis and `b` the semi-minor axis in pixels, `angle_deg` the direction of
the major axis, measured from the +x axis towards +y (image rows go down), in [0, 180).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

MIN_POINTS = 12
_DRAW_SHIFT = 4  # cv2 fixed-point bits for sub-pixel drawing


@dataclass(frozen=True)
class Ellipse:
    cx: float
    cy: float
    a: float          # semi-major axis, px
    b: float          # semi-minor axis, px
    angle_deg: float  # direction of the major axis

    def perimeter(self) -> float:
        """Ramanujan's second approximation (relative error < 1e-9 for head-like eccentricities)."""
        a, b = self.a, self.b
        h = ((a - b) / (a + b)) ** 2
        return math.pi * (a + b) * (1.0 + 3.0 * h / (10.0 + math.sqrt(4.0 - 3.0 * h)))

    def area(self) -> float:
        return math.pi * self.a * self.b

    def grown(self, d: float) -> "Ellipse":
        return Ellipse(self.cx, self.cy, self.a + d, self.b + d, self.angle_deg)

    def axis_endpoints(self) -> tuple[np.ndarray, np.ndarray]:
        """((2,2) major-axis end points, (2,2) minor-axis end points) in frame pixel coords."""
        t = math.radians(self.angle_deg)
        u = np.array([math.cos(t), math.sin(t)])
        v = np.array([-math.sin(t), math.cos(t)])
        c = np.array([self.cx, self.cy])
        return np.stack([c - self.a * u, c + self.a * u]), np.stack([c - self.b * v, c + self.b * v])

    def fill(self, shape: tuple[int, int]) -> np.ndarray:
        """uint8 mask (0/1) of the filled ellipse, drawn at sub-pixel precision."""
        out = np.zeros(shape, np.uint8)
        s = 1 << _DRAW_SHIFT
        cv2.ellipse(out, (round(self.cx * s), round(self.cy * s)), (round(self.a * s), round(self.b * s)),
                    self.angle_deg, 0, 360, 1, thickness=-1, lineType=cv2.LINE_8, shift=_DRAW_SHIFT)
        return out

    def distances(self, pts: np.ndarray) -> np.ndarray:
        """Approximate geometric distance of (N,2) points to the ellipse curve (first-order, Sampson-like)."""
        t = math.radians(self.angle_deg)
        d = np.asarray(pts, np.float64) - (self.cx, self.cy)
        x = d[:, 0] * math.cos(t) + d[:, 1] * math.sin(t)
        y = -d[:, 0] * math.sin(t) + d[:, 1] * math.cos(t)
        a2, b2 = self.a ** 2, self.b ** 2
        f = x * x / a2 + y * y / b2 - 1.0
        g = 2.0 * np.sqrt((x / a2) ** 2 + (y / b2) ** 2)
        return np.abs(f) / np.maximum(g, 1e-12)


def from_cv2(box: tuple) -> Ellipse:
    """Convert cv2.fitEllipse's ((cx, cy), (w, h), angle) (full axes) to an Ellipse."""
    (cx, cy), (w, h), ang = box
    if w >= h:
        return Ellipse(float(cx), float(cy), w / 2.0, h / 2.0, float(ang) % 180.0)
    return Ellipse(float(cx), float(cy), h / 2.0, w / 2.0, (float(ang) + 90.0) % 180.0)


@dataclass(frozen=True)
class FitResult:
    ellipse: Ellipse
    rms_px: float         # RMS distance of the kept points to the ellipse
    inlier_frac: float    # fraction of boundary points kept after outlier rejection


def fit_ellipse(points: np.ndarray, iterations: int = 4, k: float = 3.0, floor_px: float = 1.5) -> FitResult | None:
    """Least-squares ellipse fit with iterative outlier rejection (points farther than max(k*1.4826*MAD, floor)).

    Returns None when fewer than MIN_POINTS points remain or the fit is degenerate.
    """
    pts = np.asarray(points, np.float32).reshape(-1, 2)
    if len(pts) < MIN_POINTS:
        return None
    keep = np.ones(len(pts), bool)
    ell = None
    for _ in range(iterations):
        if keep.sum() < MIN_POINTS:
            return None
        ell = from_cv2(cv2.fitEllipseDirect(pts[keep]))
        if not all(math.isfinite(v) for v in (ell.cx, ell.cy, ell.a, ell.b)) or ell.b <= 0.5:
            return None
        dist = ell.distances(pts)
        mad = float(np.median(np.abs(dist[keep] - np.median(dist[keep])))) * 1.4826
        new_keep = dist <= max(k * mad + float(np.median(dist[keep])), floor_px)
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    if ell is None or keep.sum() < MIN_POINTS:
        return None
    rms = float(np.sqrt(np.mean(ell.distances(pts[keep]) ** 2)))
    return FitResult(ell, rms, float(keep.mean()))
