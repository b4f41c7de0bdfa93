"""The outline-uncertainty gate, chosen and judged on out-of-fold rows of a `python -m research.biometry cv` run.

Each measured row carries `details.hc_spread_rel` (edge.biometry.measure.hc_spread): how far the head outline
moves between p = 0.25 and p = 0.75. The gate refuses the heads whose |spread| exceeds S; S is set so that the
run leaves at most a given fraction of its images unanswered in total, and the rule of 2 Dec 2026 (docs/decisions.md) decides
whether the gate earns its refusals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge.errors import ConfigError


@dataclass(frozen=True)
class GateReport:
    n_images: int
    unanswered_before: int
    threshold: float               # S: refuse when |hc_spread_rel| > S (inf: nothing refused)
    refused: int
    mae_before: float              # over the images the ungated fit answers
    mae_after: float               # over the images the gate lets through
    refused_mae: float             # mean |HC error| of the refused images (nan when none)
    spearman_spread: float         # rank correlation of |spread| with |HC error|
    spearman_quality: float        # ... and of the existing quality score (negative: higher quality, lower error)

    @property
    def gain(self) -> float:
        return self.mae_before - self.mae_after

    def passes(self, min_gain_mm: float = 0.10, min_ratio: float = 2.0) -> bool:
        """The rule: MAE at least `min_gain_mm` lower, and refused heads at least `min_ratio` x the ungated MAE."""
        return self.gain >= min_gain_mm and self.refused_mae >= min_ratio * self.mae_before


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks from 0, tied values sharing their mean rank."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts
    return (first + (counts - 1) / 2.0)[inverse]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation, ties given their mean rank."""
    return float(np.corrcoef(_ranks(np.asarray(x)), _ranks(np.asarray(y)))[0, 1])


def _measured(rows: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    kept = [r for r in rows if r["hc_mm"] is not None]
    if any("hc_spread_rel" not in r.get("details", {}) for r in kept):
        raise ConfigError("these CV rows carry no hc_spread_rel; gather them again with this version's "
                          "`python -m research.biometry cv` (finished fold students are reused, only the measuring "
                          "is redone)")
    err = np.array([abs(r["hc_mm"] - r["hc_ref_mm"]) for r in kept], float)
    spread = np.array([abs(r["details"]["hc_spread_rel"]) for r in kept], float)
    quality = np.array([r.get("quality", math.nan) for r in kept], float)
    return err, spread, quality


def choose_threshold(spread: np.ndarray, refusals: int) -> float:
    """The S that refuses exactly the `refusals` largest spreads (inf when none may be refused)."""
    if refusals <= 0 or spread.size == 0:
        return math.inf
    ordered = np.sort(spread)[::-1]
    return float(ordered[refusals]) if refusals < ordered.size else 0.0


def gate_report(rows: list[dict], max_unanswered_frac: float = 0.015, threshold: float | None = None) -> GateReport:
    """Judge the gate on CV rows: S chosen for `max_unanswered_frac` (or the given `threshold`)."""
    if not 0.0 <= max_unanswered_frac < 1.0:
        raise ConfigError(f"max unanswered fraction {max_unanswered_frac} must be in [0, 1)")
    err, spread, quality = _measured(rows)
    if err.size < 3:
        raise ConfigError(f"only {err.size} measured rows; a gate cannot be judged on so few")
    before = len(rows) - err.size
    s = threshold if threshold is not None else choose_threshold(
        spread, int(math.floor(max_unanswered_frac * len(rows))) - before)
    refused = spread > s
    return GateReport(len(rows), before, s, int(refused.sum()), float(err.mean()), float(err[~refused].mean()),
                      float(err[refused].mean()) if refused.any() else math.nan,
                      spearman(spread, err), spearman(quality, err))


def format_report(g: GateReport, min_gain_mm: float, min_ratio: float) -> str:
    n = g.n_images
    lines = ["| | images answered | HC MAE (mm) |", "|---|---:|---:|",
             f"| no spread gate | {n - g.unanswered_before} of {n} | {g.mae_before:.3f} |",
             f"| gate S = {g.threshold:.4f} | {n - g.unanswered_before - g.refused} of {n} | {g.mae_after:.3f} |",
             f"| refused by the gate | {g.refused} | {g.refused_mae:.3f} |",
             f"Spearman with |HC error|: |spread| {g.spearman_spread:+.2f}, quality score {g.spearman_quality:+.2f}."]
    verdict = "passes" if g.passes(min_gain_mm, min_ratio) else "does not pass"
    lines.append(f"The gate {verdict} the rule (MAE lower by >= {min_gain_mm} mm, refused heads >= {min_ratio} x "
                 f"the ungated MAE): gain {g.gain:+.3f} mm.")
    return "\n".join(lines)
