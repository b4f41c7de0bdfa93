"""Turn out-of-fold / held-out logits into the comparison table: macro-F1, recall, ECE, coverage."""

from __future__ import annotations

import numpy as np

from compress.data.planes import PlaneRecord
from compress.planes.evaluate import (brain_subplane_accuracy, classification_metrics, coverage_curve, ece,
                                      fit_temperature, softmax)
from edge.planes.taxonomy import PLANES, to_answers

COVERAGE_THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9)


def model_metrics(logits8: np.ndarray, recs: list[PlaneRecord], temperature: float | None = None,
                  threshold: float | None = None) -> dict:
    """Metrics of one model on records; temperature fitted here if not given (then ECE is in-sample)."""
    y = np.array([r.plane_idx for r in recs])
    t = fit_temperature(logits8, y) if temperature is None else temperature
    p_raw, p_cal = to_answers(softmax(logits8)), to_answers(softmax(logits8, t))
    out = classification_metrics(y, p_cal)
    out["temperature"] = t
    out["ece_raw"] = ece(p_raw, y)
    out["ece_calibrated"] = ece(p_cal, y)
    out["brain_subplane"] = brain_subplane_accuracy(softmax(logits8, t), [r.brain_plane for r in recs])
    out["coverage"] = coverage_curve(p_cal, y, COVERAGE_THRESHOLDS)
    if threshold is not None:
        out["at_threshold"] = coverage_curve(p_cal, y, [threshold])[0]
    return out


def subset(logits8: np.ndarray, recs: list[PlaneRecord], keep: list[bool]) -> tuple[np.ndarray, list[PlaneRecord]]:
    idx = [i for i, k in enumerate(keep) if k]
    return logits8[idx], [recs[i] for i in idx]


def format_table(rows: dict[str, dict], title: str) -> str:
    """rows: label -> metrics dict. One line per label: n, acc, macro-F1, per-plane recall, ECE."""
    planes = " ".join(f"{p.split()[-1][:6]:>6s}" for p in PLANES)
    head = f"{'model / set':34s} {'n':>4s} {'acc':>6s} {'mF1':>6s} {planes}"
    lines = [title, head + f" {'ECE':>6s} {'ECE_T':>6s}"]
    for label, m in rows.items():
        rec = " ".join(f"{m['recall'][p]:6.3f}" if p in m["recall"] else f"{'-':>6s}" for p in PLANES)
        lines.append(f"{label:34s} {m['n']:4d} {m['accuracy']:6.3f} {m['macro_f1']:6.3f} {rec} "
                     f"{m['ece_raw']:6.3f} {m['ece_calibrated']:6.3f}")
    return "\n".join(lines)
