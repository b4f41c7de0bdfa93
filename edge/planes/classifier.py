"""One frame -> `PlanePrediction`: frame check, the shipped student, temperature, unknown threshold.

The temperature and the unknown threshold travel in the model's manifest under
`"calibration_params": {"temperature": T, "unknown_threshold": t}` (chosen on validation data at training
time); the runtime never repeats them in code. A frame is answered `unknown`, with the reason, when the
frame check refuses it, when the model's junk output ("Not ultrasound", plane-cls >= 1.4.0) beats every
plane, or when its best plane is below the threshold. `best` is the top plane even then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edge.errors import ModelError
from edge.frame_check import check_frame
from edge.manifest import ModelRef
from edge.models import LoadedModel, load_model
from edge.planes.taxonomy import BRAIN, BRAIN_PLANES, CLASS_SETS, PLANES, UNKNOWN, junk_probability, to_planes

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
    best: str | None = None       # the top plane even when the answer is unknown (None if the frame was refused)
    junk: float = 0.0             # the junk output's calibrated probability (0.0 for models without one)

    def to_dict(self) -> dict[str, Any]:
        return {"plane": self.plane, "brain_plane": self.brain_plane, "confidence": round(self.confidence, 4),
                "best": self.best, "probs": {k: round(v, 4) for k, v in self.probs.items()},
                "junk": round(self.junk, 4), "model": self.model.to_dict(), "reason": self.reason}


def _calibration(raw: dict[str, Any], where: Path) -> tuple[float, float]:
    params = raw.get("calibration_params")
    if not isinstance(params, dict) or "temperature" not in params or "unknown_threshold" not in params:
        raise ModelError(f"{where}: manifest lacks calibration_params {{temperature, unknown_threshold}}; "
                         "a plane model must carry them (written by fetal-compress pipeline --task planes)")
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
        if tuple(m.class_names) not in CLASS_SETS:
            raise ModelError(f"{m.directory}: class names {list(m.class_names)} are not the plane model "
                             f"classes {list(CLASS_SETS[0])} (or, before plane-cls 1.4.0, the first 8 of them)")
        self.temperature, threshold = _calibration(m.raw, m.directory)
        if unknown_threshold is not None and not 0.0 <= unknown_threshold <= 1.0:
            raise ModelError(f"unknown_threshold {unknown_threshold} must be in [0, 1]")
        self.threshold = threshold if unknown_threshold is None else float(unknown_threshold)
        self.ref = m.ref

    def probabilities(self, frame: np.ndarray) -> np.ndarray:
        """Calibrated probabilities over the model classes (9, or 8 before plane-cls 1.4.0; no frame check)."""
        logits, _ = self.model.infer(frame)
        z = np.asarray(logits, dtype=np.float64) / self.temperature
        e = np.exp(z - z.max())
        return e / e.sum()

    def refuse(self, reason: str) -> PlanePrediction:
        return PlanePrediction(UNKNOWN, None, 0.0, {}, self.ref, reason)

    def classify(self, frame: np.ndarray) -> PlanePrediction:
        return classify_frame(frame, self.probabilities, self.threshold, self.ref)


def classify_frame(frame: np.ndarray, probabilities: Callable[[np.ndarray], np.ndarray], threshold: float,
                   ref: ModelRef) -> PlanePrediction:
    """Frame check, then `probabilities(frame)` (calibrated, model classes) and `answer`."""
    check = check_frame(frame)
    if not check.ok:
        return PlanePrediction(UNKNOWN, None, 0.0, {}, ref, str(check.reason))
    return answer(probabilities(frame), threshold, ref)


def answer(p: np.ndarray, threshold: float, ref: ModelRef) -> PlanePrediction:
    """The answer for calibrated model-class probabilities `p` (9 or 8) of a frame the frame check accepted."""
    p6, junk = to_planes(p), float(junk_probability(p))
    best = int(p6.argmax())
    probs = {name: float(v) for name, v in zip(PLANES, p6)}
    brain_probs = {name: float(v) for name, v in zip(BRAIN_PLANES, p[:3])}
    conf = float(p6[best])

    def unknown(reason: str) -> PlanePrediction:
        return PlanePrediction(UNKNOWN, None, conf, probs, ref, reason, brain_probs, PLANES[best], junk)

    if junk >= conf:
        return unknown(f"not an ultrasound view (junk score {junk:.2f})")
    if conf < threshold:
        return unknown(f"no standard plane: best {PLANES[best]} at {conf:.2f} < threshold {threshold:.2f}")
    sub = None
    if PLANES[best] == BRAIN:
        k = int(p[:3].argmax())
        sub = BRAIN_PLANES[k] if p[k] / max(p6[0], 1e-12) >= SUBPLANE_MIN_SHARE else None
    return PlanePrediction(PLANES[best], sub, conf, probs, ref, None, brain_probs, PLANES[best], junk)
