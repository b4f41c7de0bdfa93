"""Plane-classification metrics: per-class recall, macro-F1, confusion matrix, temperature scaling + ECE,
unknown threshold and coverage vs accuracy. Works on 6-plane labels; model outputs (9: 8 planes + junk, or 8)
are summed into the six planes first, with the junk probability kept as a 7th column (`to_answers`), so a
real frame answered junk counts as a miss of its plane.

`evaluate(predict_fn, indices, records)` is the entry point for other stages (e.g. compression):
predict_fn(gray_frame) -> probabilities over the 8 model classes (or the 6 planes).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from compress.data.planes import PlaneRecord, split_dev_heldout
from edge.errors import InputError
from edge.imageio import read_gray
from edge.planes.taxonomy import BRAIN_PLANES, CLASS_SETS, PLANES, to_answers, to_planes


def softmax(z: np.ndarray, t: float = 1.0) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64) / t
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def as_planes(probs: np.ndarray) -> np.ndarray:
    """Model-class probabilities -> the six planes (+ junk as a 7th column); 6 or 7 columns pass as they are."""
    probs = np.asarray(probs, dtype=np.float64)
    return to_answers(probs) if probs.shape[-1] in (len(c) for c in CLASS_SETS) else probs


def classification_metrics(y_true: np.ndarray, probs6: np.ndarray) -> dict:
    """Macro-F1 over the planes present in y_true, per-plane recall/F1, accuracy, confusion matrix (rows true
    plane; columns predicted plane, then junk when probs has that 7th column)."""
    y_true = np.asarray(y_true)
    probs6 = np.asarray(probs6)
    pred = probs6.argmax(axis=1)
    cm = np.zeros((len(PLANES), probs6.shape[1]), dtype=int)
    np.add.at(cm, (y_true, pred), 1)
    present = [c for c in range(len(PLANES)) if cm[c].sum() > 0]
    recall, f1 = {}, {}
    for c in present:
        tp, fn, fp = cm[c, c], cm[c].sum() - cm[c, c], cm[:, c].sum() - cm[c, c]
        recall[PLANES[c]] = float(tp / (tp + fn))
        f1[PLANES[c]] = float(2 * tp / max(2 * tp + fn + fp, 1))
    return {"n": int(len(y_true)), "accuracy": float((pred == y_true).mean()),
            "macro_f1": float(np.mean(list(f1.values()))), "recall": recall, "f1": f1,
            "support": {PLANES[c]: int(cm[c].sum()) for c in present}, "confusion": cm.tolist()}


def brain_subplane_accuracy(probs8: np.ndarray, brain_true: Sequence[str | None]) -> dict:
    """Among images with a known sub-plane that are classified brain: how often the sub-plane is right."""
    probs8 = np.asarray(probs8)
    idx = [i for i, b in enumerate(brain_true) if b in BRAIN_PLANES and to_planes(probs8[i]).argmax() == 0]
    if not idx:
        return {"n": 0, "accuracy": None}
    right = sum(BRAIN_PLANES[int(probs8[i, :3].argmax())] == brain_true[i] for i in idx)
    return {"n": len(idx), "accuracy": float(right / len(idx))}


def ece(probs: np.ndarray, y_true: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the top-1 confidence (equal-width bins)."""
    conf, pred = probs[:, :len(PLANES)].max(axis=1), probs.argmax(axis=1)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(conf[m].mean() - (pred[m] == y_true[m]).mean())
    return float(total)


def fit_temperature(logits8: np.ndarray, y_plane: np.ndarray) -> float:
    """Temperature minimising the NLL of the true plane under softmax(logits/T) (grid search, log-spaced 0.25..8)."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 121))
    nll = [-np.log(np.clip(to_planes(softmax(logits8, t))[np.arange(len(y_plane)), y_plane], 1e-12, 1)).mean()
           for t in grid]
    return float(grid[int(np.argmin(nll))])


def coverage_curve(probs6: np.ndarray, y_true: np.ndarray, thresholds: Sequence[float]) -> list[dict]:
    """Share of frames answered (best plane >= threshold and not beaten by junk) and their accuracy."""
    conf, right = probs6[:, :len(PLANES)].max(axis=1), probs6.argmax(axis=1) == y_true
    conf = np.where(probs6.argmax(axis=1) < len(PLANES), conf, 0.0)  # a junk answer is never an answer
    out = []
    for t in thresholds:
        keep = conf >= t
        out.append({"threshold": float(t), "coverage": float(keep.mean()),
                    "accuracy": float(right[keep].mean()) if keep.any() else None})
    return out


def choose_threshold(probs6: np.ndarray, y_true: np.ndarray, target_accuracy: float = 0.97,
                     max_threshold: float = 0.9) -> float:
    """Lowest confidence threshold whose answered frames reach `target_accuracy` (capped)."""
    for t in np.round(np.arange(0.3, max_threshold + 1e-9, 0.01), 2):
        row = coverage_curve(probs6, y_true, [t])[0]
        if row["accuracy"] is not None and row["accuracy"] >= target_accuracy:
            return float(t)
    return float(max_threshold)


def evaluate(predict_fn: Callable[[np.ndarray], np.ndarray], indices: Sequence[int] | str,
             records: Sequence[PlaneRecord]) -> dict:
    """Run predict_fn(gray frame) -> probs on records[indices]; metrics over the six planes.

    indices: record indices, or "heldout" / "dev" for the patient split of compress.data.planes.
    """
    if isinstance(indices, str):
        dev, held = split_dev_heldout(list(records))
        if indices not in ("heldout", "dev"):
            raise InputError(f"split {indices!r} is not 'heldout' or 'dev' (or pass record indices)")
        indices = held if indices == "heldout" else dev
    probs = np.stack([np.asarray(predict_fn(read_gray(records[i].path)), dtype=np.float64) for i in indices])
    y = np.array([records[i].plane_idx for i in indices])
    out = classification_metrics(y, as_planes(probs))
    if probs.shape[1] in (len(c) for c in CLASS_SETS):
        out["brain_subplane"] = brain_subplane_accuracy(probs, [records[i].brain_plane for i in indices])
    return out
