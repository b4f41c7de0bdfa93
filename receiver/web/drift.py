"""Drift of the plane classifier per device: each week's share of frames answered `unknown` and mean plane
confidence, against that device's usual (the median of its other weeks). A week is flagged when it is far
from the usual in robust units (|x - median| > K x 1.4826 x MAD, MAD floored so a very steady device is not
flagged for noise) and by more than a clinically visible amount."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date

K = 3.0                      # robust z beyond which a week is unusual
MIN_WEEKS = 4                # weeks of history before "usual" means anything
UNKNOWN_STEP = 0.05          # 5 percentage points of unknown frames
CONFIDENCE_STEP = 0.05
MAD_FLOOR = 0.01


@dataclass(frozen=True)
class Week:
    week: date
    exams: int
    frames: int
    unknown_share: float | None
    mean_confidence: float | None
    warning: str | None = None


def _far(x: float | None, others: list[float], step: float) -> float | None:
    """The signed distance from the usual when it is far, else None."""
    if x is None or len(others) < MIN_WEEKS - 1:
        return None
    median = statistics.median(others)
    mad = max(statistics.median(abs(o - median) for o in others), MAD_FLOOR)
    diff = x - median
    return diff if abs(diff) > max(step, K * 1.4826 * mad) else None


def flag_weeks(weeks: list[Week]) -> list[Week]:
    """`weeks` (one device) with `warning` set on the weeks far from the device's usual."""
    out = []
    for i, w in enumerate(weeks):
        rest = weeks[:i] + weeks[i + 1:]
        unknown = _far(w.unknown_share, [o.unknown_share for o in rest if o.unknown_share is not None],
                       UNKNOWN_STEP)
        conf = _far(w.mean_confidence, [o.mean_confidence for o in rest if o.mean_confidence is not None],
                    CONFIDENCE_STEP)
        notes = []
        if unknown is not None:
            notes.append(f"unknown frames {'+' if unknown > 0 else '-'}{abs(unknown) * 100:.0f} points "
                         "from this device's usual")
        if conf is not None:
            notes.append(f"mean plane confidence {'+' if conf > 0 else '-'}{abs(conf):.2f} from usual")
        out.append(Week(w.week, w.exams, w.frames, w.unknown_share, w.mean_confidence, "; ".join(notes) or None))
    return out
