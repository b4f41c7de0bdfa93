"""Crop around a first head ellipse, for a second (refine) segmentation pass at a finer, head-aligned grid.

The crop is centred on the ellipse, rotated so that its major axis is horizontal, and scaled so that both axes
times `margin` fit the crop grid, never magnified past the frame's own pixels. Shrinking is done first with an
area resize (as the whole-frame preprocessing does, so large heads are not aliased), then the rotation.
`CropGeometry.frame_to_crop` is the exact composite affine; the refine network's logits go back to the frame
through it, and the device's ellipse fit measures them as it measures a whole-frame map.

Not on the runtime's path: ranked by CV on 3 Dec 2026 it did not beat one pass (docs/biometry.md), so the
shipped head model segments once. It stays for `cv-biometry --crop-margin` and as the geometry a future
refine model would use on the device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from edge.biometry.ellipse import Ellipse
from edge.biometry.measure import GateSettings, fit_head
from edge.errors import InputError

OUTSIDE_LOGIT = -30.0  # frame pixels the crop did not cover are background


@dataclass(frozen=True)
class CropSpec:
    height: int = 160
    width: int = 240
    margin: float = 1.3        # crop spans the ellipse's axes times this
    max_upsample: float = 1.0  # crop pixels per frame pixel, at most

    def __post_init__(self) -> None:
        if not (self.height > 0 and self.width > 0):
            raise InputError(f"crop size {self.height}x{self.width} must be positive")
        if not 1.0 <= self.margin <= 3.0:
            raise InputError(f"crop margin {self.margin} must be in [1, 3]: the crop must hold the whole head")
        if not self.max_upsample > 0:
            raise InputError(f"max_upsample {self.max_upsample} must be > 0")


@dataclass(frozen=True)
class CropGeometry:
    """How one crop was cut: `frame_to_crop` (2x3) maps frame pixel centres to crop pixel centres."""

    frame_to_crop: np.ndarray
    resize_to: tuple[int, int] | None   # (width, height) of the area resize done first, None if none
    resized_to_crop: np.ndarray         # (2x3) the rotation step, on the resized frame
    frame_shape: tuple[int, int]
    crop_shape: tuple[int, int]


def crop_geometry(ell: Ellipse, frame_shape: tuple[int, int], spec: CropSpec = CropSpec()) -> CropGeometry:
    if not (ell.a > 0 and ell.b > 0 and all(map(math.isfinite, (ell.cx, ell.cy, ell.a, ell.b, ell.angle_deg)))):
        raise InputError(f"cannot crop around a degenerate ellipse {ell}")
    h, w = int(frame_shape[0]), int(frame_shape[1])
    s = min(spec.width / (2 * ell.a * spec.margin), spec.height / (2 * ell.b * spec.margin), spec.max_upsample)
    if s < 1.0:
        resize_to: tuple[int, int] | None = (max(1, round(w * s)), max(1, round(h * s)))
        sx, sy = resize_to[0] / w, resize_to[1] / h
    else:
        resize_to, sx, sy = None, s, s  # magnify (up to max_upsample) in the rotation step
    t = math.radians(ell.angle_deg)
    rot = np.array([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]])  # major axis -> +x
    centre_crop = np.array([(spec.width - 1) / 2, (spec.height - 1) / 2])
    # resized pixel centre: x_r = (x + 0.5) * sx - 0.5, so the composite is rot @ diag(sx, sy) about the centre
    lin = rot @ np.diag([sx, sy])
    c = np.array([ell.cx, ell.cy])
    frame_to_crop = np.hstack([lin, (centre_crop - lin @ c)[:, None]])
    if resize_to is None:
        resized_to_crop = frame_to_crop
    else:
        c_r = (c + 0.5) * np.array([sx, sy]) - 0.5
        resized_to_crop = np.hstack([rot, (centre_crop - rot @ c_r)[:, None]])
    return CropGeometry(frame_to_crop, resize_to, resized_to_crop, (h, w), (spec.height, spec.width))


def cut(image: np.ndarray, geom: CropGeometry) -> np.ndarray:
    """The crop (float32, crop_shape) of a frame-sized array (image or soft mask); outside the frame is 0."""
    if image.shape[:2] != geom.frame_shape:
        raise InputError(f"array of shape {image.shape[:2]} does not match the frame {geom.frame_shape} the crop "
                         "was planned on")
    src = image.astype(np.float32, copy=False)
    if geom.resize_to is not None:
        src = cv2.resize(src, geom.resize_to, interpolation=cv2.INTER_AREA)
    return cv2.warpAffine(src, geom.resized_to_crop, (geom.crop_shape[1], geom.crop_shape[0]),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def crop_logits_to_frame(logits: np.ndarray, geom: CropGeometry) -> np.ndarray:
    """Crop-grid logits -> frame-resolution probability map (bilinear on logits; uncovered pixels background)."""
    up = cv2.warpAffine(logits.astype(np.float32), geom.frame_to_crop, (geom.frame_shape[1], geom.frame_shape[0]),
                        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                        borderValue=OUTSIDE_LOGIT)
    return 1.0 / (1.0 + np.exp(-np.clip(up, -30.0, 30.0)))


def jittered(ell: Ellipse, rng: np.random.Generator, centre: float = 0.05, size: tuple[float, float] = (0.9, 1.15),
             angle_deg: float = 10.0) -> Ellipse:
    """`ell` moved as a first pass might misplace it: centre by +-`centre` of the semi-minor axis, both axes
    scaled by one factor in `size`, the direction turned by up to +-`angle_deg`."""
    dx, dy = rng.uniform(-centre, centre, 2) * ell.b
    k = rng.uniform(*size)
    return Ellipse(ell.cx + dx, ell.cy + dy, ell.a * k, ell.b * k,
                   (ell.angle_deg + rng.uniform(-angle_deg, angle_deg)) % 180.0)


def refine_prob(frame: np.ndarray, first_prob: np.ndarray, crop_logits: Callable[[np.ndarray], np.ndarray],
                spec: CropSpec = CropSpec(), gates: GateSettings = GateSettings()) -> np.ndarray:
    """The second pass: crop `frame` (grayscale) around the ellipse fitted to `first_prob`, segment the crop with
    `crop_logits(crop float32 0..255) -> logits on the crop grid`, and return the frame-resolution map. A first
    map that yields no ellipse is returned as it is, so the measurement refuses it with the first pass's reason."""
    ell, _, _ = fit_head(first_prob, gates)
    if ell is None:
        return first_prob
    geom = crop_geometry(ell, frame.shape[:2], spec)
    return crop_logits_to_frame(crop_logits(cut(frame, geom)), geom)
