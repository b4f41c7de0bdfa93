"""Ultrasound-fitting augmentation of a whole gray frame (`augment_frame`), which then goes through the
device's own preprocessing (compress.planes.contract) for the student and SonoNet's view (`clean_view`,
224x288) for the teacher.

Each augmented frame: a random zoom into the centre (depth/zoom) with a shift, a small rotation, a
horizontal flip (left-right mirror is anatomically fine for these planes; never vertical: the probe is
always at the top), gain and gamma (contrast), and multiplicative speckle noise. `augment_view` is the
older form that warped straight into a 224x288 view (kept for the research probes that read it).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

VIEW_HW = (224, 288)


@dataclass(frozen=True)
class AugmentSpec:
    zoom: tuple[float, float] = (0.75, 1.0)      # crop side as a fraction of the centre-crop box
    shift: float = 0.08                           # max crop-centre shift, fraction of box side
    rotate_deg: float = 10.0
    hflip: float = 0.5
    gain: tuple[float, float] = (0.75, 1.25)
    gamma: tuple[float, float] = (0.7, 1.4)
    speckle: tuple[float, float] = (0.0, 0.25)   # std of multiplicative noise


def centre_box(h: int, w: int, hw: tuple[int, int] = VIEW_HW) -> tuple[float, float, float, float]:
    """(cx, cy, box_w, box_h) of the largest centred box with the view's aspect ratio."""
    target = hw[1] / hw[0]
    bw, bh = (h * target, h) if w / h > target else (w, w / target)
    return w / 2.0, h / 2.0, bw, bh


def clean_view(gray: np.ndarray, hw: tuple[int, int] = VIEW_HW) -> np.ndarray:
    """The deterministic view (centre crop to aspect, area resize) - same geometry as edge.preprocess."""
    h, w = gray.shape
    target = hw[1] / hw[0]
    cw, ch = (round(h * target), h) if w / h > target else (w, round(w / target))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return cv2.resize(gray[y0:y0 + ch, x0:x0 + cw], (hw[1], hw[0]), interpolation=cv2.INTER_AREA)


def augment_view(gray: np.ndarray, rng: np.random.Generator, spec: AugmentSpec = AugmentSpec(),
                 hw: tuple[int, int] = VIEW_HW) -> np.ndarray:
    """One random augmented view (uint8, hw) of a gray uint8 frame."""
    h, w = gray.shape
    cx, cy, bw, bh = centre_box(h, w, hw)
    z = rng.uniform(*spec.zoom)
    cx += rng.uniform(-spec.shift, spec.shift) * bw
    cy += rng.uniform(-spec.shift, spec.shift) * bh
    scale = hw[1] / (bw * z)
    angle = rng.uniform(-spec.rotate_deg, spec.rotate_deg)
    m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    m[0, 2] += hw[1] / 2.0 - cx
    m[1, 2] += hw[0] / 2.0 - cy
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    if scale < 0.5:  # pre-shrink so the warp does not alias
        f = 2.0 * scale
        gray = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        m[:, :2] /= f
    view = cv2.warpAffine(gray, m, (hw[1], hw[0]), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if rng.random() < spec.hflip:
        view = view[:, ::-1]
    x = view.astype(np.float32) / 255.0
    x = np.clip(x * rng.uniform(*spec.gain), 0, 1) ** rng.uniform(*spec.gamma)
    sigma = rng.uniform(*spec.speckle)
    if sigma > 0:
        noise = rng.standard_normal((hw[0] // 2, hw[1] // 2)).astype(np.float32)
        noise = cv2.resize(noise, (hw[1], hw[0]), interpolation=cv2.INTER_LINEAR)  # speckle grain > 1 px
        x = x * (1.0 + sigma * noise)
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def augment_frame(gray: np.ndarray, rng: np.random.Generator, spec: AugmentSpec = AugmentSpec(),
                  hw: tuple[int, int] = VIEW_HW) -> np.ndarray:
    """One random augmented full frame (uint8, the input's shape): the geometry and intensity changes of
    `augment_view`, applied to the whole frame so that any preprocessing can follow."""
    h, w = gray.shape
    cx, cy, bw, bh = centre_box(h, w, hw)
    z = rng.uniform(*spec.zoom)
    sx = rng.uniform(-spec.shift, spec.shift) * bw
    sy = rng.uniform(-spec.shift, spec.shift) * bh
    angle = rng.uniform(-spec.rotate_deg, spec.rotate_deg)
    m = cv2.getRotationMatrix2D((cx + sx, cy + sy), angle, 1.0 / z)  # zoom in about the shifted centre ...
    m[0, 2] -= sx                                                      # ... and bring it to the frame centre
    m[1, 2] -= sy
    out = cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if rng.random() < spec.hflip:
        out = out[:, ::-1]
    x = out.astype(np.float32) / 255.0
    x = np.clip(x * rng.uniform(*spec.gain), 0, 1) ** rng.uniform(*spec.gamma)
    sigma = rng.uniform(*spec.speckle)
    if sigma > 0:  # grain as in augment_view: half the 224x288 view's resolution over the centre box
        gh, gw = max(2, round(h * hw[0] / (2 * bh))), max(2, round(w * hw[1] / (2 * bw)))
        noise = cv2.resize(rng.standard_normal((gh, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        x = x * (1.0 + sigma * noise)
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def student_view(view: np.ndarray, student_hw: tuple[int, int]) -> np.ndarray:
    return cv2.resize(view, (student_hw[1], student_hw[0]), interpolation=cv2.INTER_AREA)
