"""The plane taxonomy of fetal-edge and the map of SonoNet's 13 planes + background onto it.

Reported planes (6) and, for the brain, a sub-plane; the model has 9 outputs (`MODEL_CLASSES`): the three
brain sub-planes, the five other planes and `JUNK` ("not an ultrasound view": noise, blank sectors, screens,
pictures), which is answered `unknown`. Models before plane-cls 1.4.0 have the first 8 only
(`PLANE_CLASSES`). The 6-class answer is `Fetal brain` when the summed brain sub-plane probability wins.
Written down with reasons in docs/planes.md.
"""

from __future__ import annotations

import numpy as np

from edge.errors import InputError

BRAIN = "Fetal brain"
UNKNOWN = "unknown"
PLANES = (BRAIN, "Fetal abdomen", "Fetal femur", "Fetal thorax", "Maternal cervix", "Other")
BRAIN_PLANES = ("Trans-thalamic", "Trans-ventricular", "Trans-cerebellum")
PLANE_CLASSES = BRAIN_PLANES + PLANES[1:]  # the 8 plane outputs
JUNK = "Not ultrasound"
MODEL_CLASSES = PLANE_CLASSES + (JUNK,)    # 9 model outputs (plane-cls >= 1.4.0)
CLASS_SETS = (MODEL_CLASSES, PLANE_CLASSES)  # the output layouts a plane model may have

# SonoNet-16 output (14) -> (our plane, brain sub-plane or None)
SONONET_MAP: dict[str, tuple[str, str | None]] = {
    "3VV": ("Fetal thorax", None),
    "4CH": ("Fetal thorax", None),
    "Abdominal": ("Fetal abdomen", None),
    "Background": ("Other", None),
    "Brain (Cb.)": (BRAIN, "Trans-cerebellum"),
    "Brain (Tv.)": (BRAIN, "Trans-ventricular"),
    "Femur": ("Fetal femur", None),
    "Kidneys": ("Other", None),
    "Lips": ("Other", None),
    "LVOT": ("Fetal thorax", None),
    "Profile": ("Other", None),
    "RVOT": ("Fetal thorax", None),
    "Spine (cor.)": ("Other", None),
    "Spine (sag.)": ("Other", None),
}


def model_class_of(plane: str, brain_plane: str | None) -> int:
    """Index into MODEL_CLASSES; -1 for a brain image without a known sub-plane (partial label)."""
    if plane == BRAIN:
        return BRAIN_PLANES.index(brain_plane) if brain_plane in BRAIN_PLANES else -1
    if plane not in PLANES:
        raise InputError(f"plane {plane!r} is not one of {PLANES}")
    return MODEL_CLASSES.index(plane)


def plane_index(plane: str) -> int:
    if plane not in PLANES:
        raise InputError(f"plane {plane!r} is not one of {PLANES}")
    return PLANES.index(plane)


def to_answers(probs: np.ndarray) -> np.ndarray:
    """(..., 9) or (..., 8) model-class probabilities -> (..., 7) or (..., 6): the six planes (brain = sum of
    sub-planes), then the junk probability when the model has that output."""
    p = np.asarray(probs, dtype=np.float64)
    if p.shape[-1] not in (len(MODEL_CLASSES), len(PLANE_CLASSES)):
        raise InputError(f"expected {len(MODEL_CLASSES)} or {len(PLANE_CLASSES)} class probabilities, "
                         f"got shape {p.shape}")
    return np.concatenate([p[..., :3].sum(-1, keepdims=True), p[..., 3:]], axis=-1)


def to_planes(probs: np.ndarray) -> np.ndarray:
    """(..., 9) or (..., 8) model-class probabilities -> (..., 6) plane probabilities (junk left out)."""
    return to_answers(probs)[..., :len(PLANES)]


def junk_probability(probs: np.ndarray) -> np.ndarray:
    """(..., 9) -> (...,) the junk output; 0 for a model without one (8 outputs)."""
    p = np.asarray(probs, dtype=np.float64)
    return p[..., len(PLANE_CLASSES)] if p.shape[-1] == len(MODEL_CLASSES) else np.zeros(p.shape[:-1])


def sononet_to_model_classes(probs14: np.ndarray, sononet_classes: tuple[str, ...]) -> np.ndarray:
    """SonoNet probabilities (..., 14) -> our 8 model classes by summing mapped outputs."""
    p = np.asarray(probs14, dtype=np.float64)
    out = np.zeros(p.shape[:-1] + (len(MODEL_CLASSES),))
    for j, name in enumerate(sononet_classes):
        plane, sub = SONONET_MAP[name]
        out[..., MODEL_CLASSES.index(sub if sub else plane)] += p[..., j]
    return out
