"""Head segmentation on the device: frame -> head probability map in frame pixel coordinates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.errors import ModelError
from edge.manifest import ModelRef
from edge.models import LoadedModel, load_model
from edge.preprocess import Geometry

DEFAULT_MODEL = "head-seg"
_OUTSIDE_LOGIT = -30.0  # logit used for frame pixels the model did not see (letterbox / crop borders)


@dataclass(frozen=True)
class ProbMap:
    prob: np.ndarray   # float32 (H, W) in [0, 1], frame pixel coordinates
    model: ModelRef


def logits_to_frame(logits: np.ndarray, geom: Geometry) -> np.ndarray:
    """Map model-resolution logits (h, w) to a frame-resolution probability map (bilinear on logits)."""
    # frame pixel (X, Y) samples model pixel ((X + 0.5 - off_x) / scale_x - 0.5, ...), inverse of Geometry.to_frame
    m = np.array([[1.0 / geom.scale_x, 0.0, (0.5 - geom.offset_x) / geom.scale_x - 0.5],
                  [0.0, 1.0 / geom.scale_y, (0.5 - geom.offset_y) / geom.scale_y - 0.5]])
    up = cv2.warpAffine(logits.astype(np.float32), m, (geom.frame_width, geom.frame_height),
                        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    if geom.offset_x > 0 or geom.offset_y > 0:  # centre crop: pixels outside the crop were never seen
        x0, y0 = int(round(geom.offset_x)), int(round(geom.offset_y))
        seen = np.zeros_like(up, bool)
        seen[y0:geom.frame_height - y0, x0:geom.frame_width - x0] = True
        up[~seen] = _OUTSIDE_LOGIT
    return 1.0 / (1.0 + np.exp(-np.clip(up, -30.0, 30.0)))


def logit_offset(raw_manifest: dict) -> float:
    """manifest "postprocessing": {"logit_offset": x}: added to the logits, so that p >= 0.5 means the
    threshold calibrated for this model on validation subjects (sigmoid(-x)). Default 0."""
    post = raw_manifest.get("postprocessing") or {}
    x = post.get("logit_offset", 0.0)
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not abs(float(x)) <= 5.0:
        raise ModelError(f"manifest postprocessing.logit_offset {x!r} must be a number in [-5, 5]")
    return float(x)


class HeadSegmenter:
    """Loads the head-seg model once (checksum verified); `__call__(frame) -> ProbMap`.

    backend, precision (the bundle variant; None = its model_file) and options (threads, device, the
    `engines` settings for TensorRT, ...) go to edge.models.load_model."""

    def __init__(self, model: str | Path = DEFAULT_MODEL, backend: str = "onnxruntime", threads: int = 2,
                 precision: str | None = None, **options: Any) -> None:
        self.model: LoadedModel = load_model(model, backend, precision, threads=threads, **options)
        kind = self.model.manifest.output_kind
        if kind != "segmentation_logits":
            raise ModelError(f"model {self.model.manifest.name!r} outputs {kind!r}; head biometry needs "
                             "'segmentation_logits' (e.g. the shipped 'head-seg')")
        self.offset = logit_offset(self.model.manifest.raw)

    @property
    def ref(self) -> ModelRef:
        return self.model.manifest.ref

    def __call__(self, frame: np.ndarray) -> ProbMap:
        out, mi = self.model.infer(frame)
        logits = out[0] if out.ndim == 3 else out
        return ProbMap(logits_to_frame(logits + self.offset, mi.geometry), self.ref)
