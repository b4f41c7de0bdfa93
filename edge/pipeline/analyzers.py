"""The models the pipeline runs, built from config: plane classification (+ smoothing) and head biometry.

Thin adapters over edge.planes and edge.biometry so that the runner sees two calls:
`PlaneStage(frame) -> (PlanePrediction, StablePlane)` and `HeadStage(frame, mm_per_px) -> dict of
hc/bpd/ofd Measurements plus the HeadResult`. Both load their model once (checksum verified; the bundle variant that
backend.precision names, see edge.settings.backend) and warm the backend up.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from edge.biometry.measure import measure_head, no_measurement
from edge.biometry.segment import HeadSegmenter
from edge.manifest import ModelRef
from edge.models import load_model
from edge.planes.classifier import SUBPLANE_MIN_SHARE, PlaneClassifier, PlanePrediction
from edge.planes.smoothing import NO_PLANE, PlaneSmoother, StablePlane
from edge.planes.taxonomy import BRAIN
from edge.settings.backend import BackendSettings
from edge.settings.pipeline import PipelineSettings

log = logging.getLogger(__name__)
HEAD_PLANE = BRAIN
HEAD_SUBPLANES = ("Trans-thalamic", None)   # HC/BPD/OFD are taken on the trans-thalamic plane
SPACING_UNKNOWN = ("pixel spacing unknown (no DICOM spacing, no probe preset, no --pixel-size): "
                   "refusing to report millimetres")


def model_options(backend: BackendSettings, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Keyword arguments that load a pipeline model (edge.models.load_model, HeadSegmenter): the backend,
    the bundle variant it runs (backend.precision with onnxruntime) and its options (threads and device, or
    the `engines` settings TensorRT needs)."""
    return {"backend": backend.name, "precision": backend.variant, **(options or backend.options())}


class PlaneStage:
    def __init__(self, settings: PipelineSettings, backend: BackendSettings,
                 options: dict[str, Any] | None = None) -> None:
        model = load_model(settings.plane_model, **model_options(backend, options))
        model.backend.warmup(backend.warmup)
        self.classifier = PlaneClassifier(model)
        self.smoother = PlaneSmoother(alpha=2.0 / (settings.smoothing_window + 1),
                                      threshold=settings.min_confidence)
        self.ref: ModelRef = self.classifier.ref
        log.info("plane model %s %s on %s", self.ref.name, self.ref.version, model.backend.describe())

    def __call__(self, frame: np.ndarray) -> tuple[PlanePrediction, StablePlane]:
        pred = self.classifier.classify(frame)
        return pred, self.smoother.update(pred)


def head_score(pred: PlanePrediction, stable: StablePlane, min_prob: float) -> float | None:
    """How good a frame is for head biometry, or None if it is not a candidate.

    A candidate's most probable plane is the fetal brain, at >= `min_prob` even when that is below the
    classifier's threshold for *showing* a plane (the head model's own quality gate decides whether it
    measures); its brain sub-plane is not clearly trans-ventricular or trans-cerebellar; and the
    sonographer is not stably on another standard plane. Score = the brain probability.
    """
    if not pred.probs or stable.plane not in (HEAD_PLANE, NO_PLANE):
        return None
    brain = pred.probs.get(HEAD_PLANE, 0.0)
    if brain < min_prob or max(pred.probs, key=pred.probs.get) != HEAD_PLANE:
        return None
    if pred.brain_probs:
        sub = max(pred.brain_probs, key=pred.brain_probs.get)
        if sub not in HEAD_SUBPLANES and pred.brain_probs[sub] >= SUBPLANE_MIN_SHARE * max(brain, 1e-9):
            return None
    return brain


class HeadStage:
    def __init__(self, settings: PipelineSettings, backend: BackendSettings,
                 options: dict[str, Any] | None = None) -> None:
        self.segmenter = HeadSegmenter(settings.head_model, **model_options(backend, options))
        self.segmenter.model.backend.warmup(backend.warmup)
        self.ref: ModelRef = self.segmenter.ref
        log.info("head model %s %s on %s", self.ref.name, self.ref.version,
                 self.segmenter.model.backend.describe())

    def __call__(self, frame: np.ndarray, mm_per_px: float | None) -> dict[str, Any]:
        """hc/bpd/ofd Measurements, and under "head" the HeadResult (its ellipse draws the report's frame)."""
        if mm_per_px is None:
            r = no_measurement(SPACING_UNKNOWN, self.ref)
        else:
            r = measure_head(self.segmenter(frame).prob, mm_per_px, self.ref)
        return {"hc": r.hc, "bpd": r.bpd, "ofd": r.ofd, "head": r}
