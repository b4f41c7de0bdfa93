"""One frame -> `PlanePrediction`: frame check, the shipped student, temperature, unknown threshold.

The temperature and the unknown threshold travel in the model's manifest under
`"calibration_params": {"temperature": T, "unknown_threshold": t}` (chosen on validation data at training
time); the runtime never repeats them in code. A frame the frame check refuses, or whose best plane is
below the threshold, is answered `unknown` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import ModelError
from edge.frame_check import check_frame
from edge.manifest import ModelRef
from edge.models import LoadedModel, load_model
from edge.planes.taxonomy import BRAIN, BRAIN_PLANES, MODEL_CLASSES, PLANES, UNKNOWN, to_planes

DEFAULT_MODEL = "plane-cls"
SUBPLANE_MIN_SHARE = 0.5  # a brain sub-plane is named only if it holds >= half of the brain probability


@dataclass(frozen=True)
class PlanePrediction:
    plane: str                    # one of PLANES, or "unknown"
    brain_plane: str | None       # a BRAIN_PLANES name when plane is brain and the sub-plane is clear
    confidence: float             # calibrated probability of the best plane (0.0 if the frame was refused)
    probs: dict[str, float]       # calibrated probabilities of the six planes ({} if the frame was refused)
    model: ModelRef
    reason: str | None = None     # why the answer is unknown
    brain_probs: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"plane": self.plane, "brain_plane": self.brain_plane, "confidence": round(self.confidence, 4),
                "probs": {k: round(v, 4) for k, v in self.probs.items()}, "model": self.model.to_dict(),
                "reason": self.reason}


def _calibration(raw: dict[str, Any], where: Path) -> tuple[float, float]:
    params = raw.get("calibration_params")
    if not isinstance(params, dict) or "temperature" not in params or "unknown_threshold" not in params:
        raise ModelError(f"{where}: manifest lacks calibration_params {{temperature, unknown_threshold}}; "
                         "a plane model must carry them (written by fetal-compress train-planes)")
    t, thr = float(params["temperature"]), float(params["unknown_threshold"])
    if not (t > 0 and 0.0 <= thr <= 1.0):
        raise ModelError(f"{where}: calibration_params temperature {t} must be > 0 and "
                         f"unknown_threshold {thr} in [0, 1]")
    return t, thr


class PlaneClassifier:
    """classify(frame gray (H,W) or BGR (H,W,3) uint8) -> PlanePrediction."""

    def __init__(self, model: str | Path | LoadedModel = DEFAULT_MODEL, threads: int = 2,
                 unknown_threshold: float | None = None, precision: str | None = None) -> None:
        self.model = (model if isinstance(model, LoadedModel)
                      else load_model(model, precision=precision, threads=threads))
        m = self.model.manifest
        if tuple(m.class_names) != MODEL_CLASSES:
            raise ModelError(f"{m.directory}: class names {list(m.class_names)} are not the plane model "
                             f"classes {list(MODEL_CLASSES)}")
        self.temperature, threshold = _calibration(m.raw, m.directory)
        if unknown_threshold is not None and not 0.0 <= unknown_threshold <= 1.0:
            raise ModelError(f"unknown_threshold {unknown_threshold} must be in [0, 1]")
        self.threshold = threshold if unknown_threshold is None else float(unknown_threshold)
        self.ref = m.ref

    def probabilities(self, frame: np.ndarray) -> np.ndarray:
        """Calibrated probabilities over the 8 model classes (no frame check)."""
        logits, _ = self.model.infer(frame)
        z = np.asarray(logits, dtype=np.float64) / self.temperature
        e = np.exp(z - z.max())
        return e / e.sum()

    def refuse(self, reason: str) -> PlanePrediction:
        return PlanePrediction(UNKNOWN, None, 0.0, {}, self.ref, reason)

    def classify(self, frame: np.ndarray) -> PlanePrediction:
        check = check_frame(frame)
        if not check.ok:
            return self.refuse(str(check.reason))
        p8 = self.probabilities(frame)
        p6 = to_planes(p8)
        best = int(p6.argmax())
        probs = {name: float(v) for name, v in zip(PLANES, p6)}
        brain_probs = {name: float(v) for name, v in zip(BRAIN_PLANES, p8[:3])}
        conf = float(p6[best])
        if conf < self.threshold:
            return PlanePrediction(UNKNOWN, None, conf, probs, self.ref,
                                   f"no standard plane: best {PLANES[best]} at {conf:.2f} < threshold "
                                   f"{self.threshold:.2f}", brain_probs)
        sub = None
        if PLANES[best] == BRAIN:
            k = int(p8[:3].argmax())
            sub = BRAIN_PLANES[k] if p8[k] / max(p6[0], 1e-12) >= SUBPLANE_MIN_SHARE else None
        return PlanePrediction(PLANES[best], sub, conf, probs, self.ref, None, brain_probs)
