"""Frame -> model input tensor, following the manifest's preprocessing contract.

`Geometry` maps model-input pixel coordinates back to frame pixel coordinates, so that masks and
points found at model resolution can be measured in the frame's own pixels (and so in mm).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.errors import InputError
from edge.manifest import PreprocessSpec

_INTERP = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR}


@dataclass(frozen=True)
class Geometry:
    """frame_x = model_x * scale_x + offset_x (same for y); model pixel centres at integer coords."""

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float
    frame_height: int
    frame_width: int

    def to_frame(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=np.float64)
        out = np.empty_like(xy)
        out[..., 0] = (xy[..., 0] + 0.5) * self.scale_x - 0.5 + self.offset_x
        out[..., 1] = (xy[..., 1] + 0.5) * self.scale_y - 0.5 + self.offset_y
        return out


@dataclass(frozen=True)
class ModelInput:
    tensor: np.ndarray  # float32, (1, 1, H, W)
    geometry: Geometry


def to_gray(frame: np.ndarray) -> np.ndarray:
    """uint8 grayscale from gray / BGR / BGRA frames (channels averaged, as the models expect)."""
    if not isinstance(frame, np.ndarray) or frame.size == 0:
        raise InputError("frame is empty; expected a non-empty image array")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim == 3 and frame.shape[2] in (3, 4):
        frame = frame[:, :, :3].astype(np.float32).mean(axis=2)
    if frame.ndim != 2:
        raise InputError(f"frame has shape {frame.shape}; expected (H, W) or (H, W, 3|4)")
    if frame.dtype != np.uint8:
        frame = np.clip(frame, 0, 255).astype(np.uint8)
    return frame


def resize(gray: np.ndarray, spec: PreprocessSpec) -> tuple[np.ndarray, Geometry]:
    """gray uint8 (H, W) -> the model-size image (uint8) the manifest's resize rule makes, and its geometry."""
    h, w = gray.shape
    th, tw = spec.height, spec.width
    interp = _INTERP[spec.interpolation]
    if spec.resize == "stretch":
        out = cv2.resize(gray, (tw, th), interpolation=interp)
        return out, Geometry(w / tw, h / th, 0.0, 0.0, h, w)
    if spec.resize == "letterbox":
        s = min(th / h, tw / w)
        nh, nw = max(1, round(h * s)), max(1, round(w * s))
        canvas = np.zeros((th, tw), dtype=gray.dtype)
        top, left = (th - nh) // 2, (tw - nw) // 2
        canvas[top:top + nh, left:left + nw] = cv2.resize(gray, (nw, nh), interpolation=interp)
        sx, sy = w / nw, h / nh
        return canvas, Geometry(sx, sy, -left * sx, -top * sy, h, w)
    # center_crop: crop the frame to the target aspect ratio, then resize
    target = tw / th
    if w / h > target:
        cw, ch = round(h * target), h
    else:
        cw, ch = w, round(w / target)
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    crop = gray[y0:y0 + ch, x0:x0 + cw]
    out = cv2.resize(crop, (tw, th), interpolation=interp)
    return out, Geometry(cw / tw, ch / th, float(x0), float(y0), h, w)


def normalise(img: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    x = img.astype(np.float32)
    n = spec.normalise
    if n.mode == "per_image":
        std = float(x.std())
        return (x - float(x.mean())) / max(std, 1e-6) * n.scale
    return (x / 255.0 - n.mean) / n.std


def preprocess(frame: np.ndarray, spec: PreprocessSpec) -> ModelInput:
    """The single entry point: any frame -> (1, 1, H, W) float32 tensor and its geometry."""
    gray = to_gray(frame)
    resized, geom = resize(gray, spec)
    x = normalise(resized, spec)
    return ModelInput(x[None, None].astype(np.float32, copy=False), geom)
