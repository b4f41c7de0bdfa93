"""Refuse frames that are not usable B-mode ultrasound, before any model sees them.

`check_frame(frame) -> FrameCheck` looks at a nearest-neighbour downsample (at most 288x224) of a gray
(H, W) or BGR (H, W, 3) uint8 frame and refuses, in this order:

1. "too small": shorter side < MIN_SIDE pixels.
2. "saturated frame": more than SATURATED_MAX of the pixels at >= 250 (gain at maximum, white screen).
3. "blank frame": almost no contrast (gray std < BLANK_STD) or almost nothing brighter than BRIGHT_LEVEL.
4. "not an ultrasound image": a colourful picture (more than PHOTO_COLOUR_MIN of the pixels strongly
   coloured), pixel-to-pixel noise far beyond ultrasound speckle, a picture too smooth to be ultrasound,
   or no dark background around the sector.
5. "colour Doppler / colour overlay": a solid strongly coloured area (what survives a 3x3 erosion of
   the coloured-pixel mask) covering more than DOPPLER_AREA_MIN of the frame. B-mode is gray; the
   coloured text and markers some machines burn in are thin strokes that the erosion removes.

The thresholds were set on all 1,240 real images in the shared data (HC18, FETAL_PLANES_DB subset,
African cohort, SonoNet examples): their extreme values, measured by `frame_metrics`, are noted beside
each constant. tests/test_frame_check.py checks every one of those images is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.errors import InputError

WORK_W, WORK_H = 288, 224          # analysis size (nearest-neighbour downsample, never upsampled)
MIN_SIDE = 128                     # real data: smallest side 259 px
BLANK_STD = 4.0                    # real data: gray std >= 18
BRIGHT_LEVEL, BRIGHT_MIN = 30, 0.01  # real data: >= 9% of pixels above 30
SATURATED_MAX = 0.15               # real data: <= 2% of pixels at >= 250
CHROMA_STRONG = 60                 # max(B,G,R) - min(B,G,R) of a strongly coloured pixel
DOPPLER_AREA_MIN = 0.003           # solid coloured area (after 3x3 erosion); real data: 0 (text only)
PHOTO_COLOUR_MIN = 0.30            # real data: <= 0.6% coloured pixels (coloured text, markers)
NOISE_DX_MAX = 30.0                # real data: mean |horizontal difference| <= ~15 gray levels
SMOOTH_DX_MIN = 0.5                # real data: >= ~1 gray level (speckle)
DARK_LEVEL, DARK_MIN = 20, 0.005   # real data: >= 1.4% of pixels below 20 (background beside the sector)


_KERNEL3 = np.ones((3, 3), np.uint8)
# Every refusal reason starts with one of these; details may follow after ": ".
REASONS = ("too small", "saturated frame", "blank frame", "not an ultrasound image",
           "colour Doppler / colour overlay")


@dataclass(frozen=True)
class FrameCheck:
    """Verdict on one frame: ok, or the reason it was refused, with the numbers behind it."""

    ok: bool
    reason: str | None
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def category(self) -> str | None:
        """The reason without its details: one of REASONS, or None when the frame is accepted."""
        return None if self.reason is None else self.reason.split(":")[0]


def _as_bgr_or_gray(frame: np.ndarray) -> np.ndarray:
    if not isinstance(frame, np.ndarray):
        raise InputError(f"frame must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise InputError(f"frame dtype is {frame.dtype}; expected uint8 (gray HxW or BGR HxWx3)")
    if frame.ndim == 3 and frame.shape[2] == 4:
        return frame[:, :, :3]
    if frame.ndim == 3 and frame.shape[2] == 1:
        return frame[:, :, 0]
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3):
        return frame
    raise InputError(f"frame shape is {frame.shape}; expected (H, W) gray or (H, W, 3) BGR")


def _downsample(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    scale = min(1.0, WORK_W / w, WORK_H / h)
    if scale >= 1.0:
        return img
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_NEAREST)


def frame_metrics(frame: np.ndarray) -> dict[str, float]:
    """The statistics check_frame decides on (all fractions in 0..1, levels in gray values)."""
    img = _as_bgr_or_gray(frame)
    h, w = img.shape[:2]
    metrics: dict[str, float] = {"height": float(h), "width": float(w)}
    if h == 0 or w == 0:
        return metrics
    small = _downsample(img)
    if small.ndim == 3:
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        b, g, r = cv2.split(small)
        chroma = cv2.subtract(cv2.max(cv2.max(b, g), r), cv2.min(cv2.min(b, g), r))
        coloured = (chroma > CHROMA_STRONG).view(np.uint8)
        metrics["colour_frac"] = float(np.count_nonzero(coloured)) / coloured.size
        # Erosion keeps only solid coloured areas (a Doppler box), not thin coloured text or markers.
        solid = cv2.erode(coloured, _KERNEL3)
        metrics["colour_area_frac"] = float(np.count_nonzero(solid)) / solid.size
    else:
        gray = small
        metrics["colour_frac"] = metrics["colour_area_frac"] = 0.0
    n = gray.size
    metrics["std"] = float(gray.std())
    metrics["bright_frac"] = float(np.count_nonzero(gray > BRIGHT_LEVEL)) / n
    metrics["saturated_frac"] = float(np.count_nonzero(gray >= 250)) / n
    metrics["dark_frac"] = float(np.count_nonzero(gray < DARK_LEVEL)) / n
    dx = cv2.absdiff(gray[:, 1:], gray[:, :-1]) if gray.shape[1] > 1 else np.zeros(1, np.uint8)
    metrics["dx"] = float(dx.mean())
    return metrics


def check_frame(frame: np.ndarray) -> FrameCheck:
    """Accept a usable B-mode ultrasound frame, or refuse it with a reason (see module docstring).

    InputError only for arrays that are not images at all (wrong dtype or shape).
    """
    m = frame_metrics(frame)
    h, w = int(m["height"]), int(m["width"])
    if min(h, w) < MIN_SIDE:
        return FrameCheck(False, f"too small: {w}x{h} px, need at least {MIN_SIDE} px a side", m)
    if m["saturated_frac"] > SATURATED_MAX:
        return FrameCheck(False, "saturated frame", m)
    if m["std"] < BLANK_STD or m["bright_frac"] < BRIGHT_MIN:
        return FrameCheck(False, "blank frame", m)
    if m["colour_frac"] >= PHOTO_COLOUR_MIN:
        return FrameCheck(False, "not an ultrasound image: a colourful picture", m)
    if m["dx"] > NOISE_DX_MAX:
        return FrameCheck(False, "not an ultrasound image: noise, not speckle", m)
    if m["dx"] < SMOOTH_DX_MIN:
        return FrameCheck(False, "not an ultrasound image: too smooth for ultrasound speckle", m)
    if m["dark_frac"] < DARK_MIN:
        return FrameCheck(False, "not an ultrasound image: no dark background around a sector", m)
    if m["colour_area_frac"] >= DOPPLER_AREA_MIN:
        return FrameCheck(False, "colour Doppler / colour overlay", m)
    return FrameCheck(True, None, m)
