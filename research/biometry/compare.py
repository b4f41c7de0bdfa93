"""Paired comparison of two `python -m research.biometry cv` results, image by image, and the ship rule recipes are ranked by.

Two recipes' out-of-fold HC errors on the same images are strongly correlated (the hard heads are hard for
both), so the paired difference of absolute errors has a much smaller standard error than either MAE: that is
what can tell recipes 0.1 mm apart (docs/decisions.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import ConfigError

LARGE_HC_MM = 200.0   # heads at or above this reference HC are where most of the millimetres are


@dataclass(frozen=True)
class PairedDiff:
    group: str
    n: int
    mae_base: float
    mae_new: float
    diff: float          # mean of |new error| - |base error| (mm); negative: the new recipe is better
    se: float            # standard error of that mean

    def passes(self, min_gain_mm: float, n_se: float) -> bool:
        """The ship rule: better by at least `min_gain_mm` and by more than `n_se` paired standard errors."""
        return self.diff <= -min_gain_mm and self.diff < -n_se * self.se


def load_rows(path: Path) -> list[dict]:
    try:
        rows = json.loads(Path(path).read_text())["rows"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not a CV result of `python -m research.biometry cv` ({exc}); give a cv_k<folds><tag>.json") from None
    return rows


def _diff(group: str, ref: np.ndarray, base: np.ndarray, new: np.ndarray) -> PairedDiff:
    a, b = np.abs(base - ref), np.abs(new - ref)
    d = b - a
    se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("nan")
    mean = (lambda x: float(x.mean()) if x.size else float("nan"))
    return PairedDiff(group, int(d.size), mean(a), mean(b), mean(d), se)


def paired(base_rows: list[dict], new_rows: list[dict]) -> tuple[list[PairedDiff], dict[str, int]]:
    """Paired differences over the images both runs measured: all, small / large heads, each fold; and how
    many images each run left unanswered (a recipe can look better by refusing its worst heads)."""
    base = {r["name"]: r for r in base_rows}
    new = {r["name"]: r for r in new_rows}
    if set(base) != set(new):
        raise ConfigError(f"the two CV runs cover different images ({len(set(base) ^ set(new))} differ); "
                          "compare runs made with the same --folds and --limit")
    both = sorted(n for n in base if base[n]["hc_mm"] is not None and new[n]["hc_mm"] is not None)
    ref = np.array([base[n]["hc_ref_mm"] for n in both], float)
    b = np.array([base[n]["hc_mm"] for n in both], float)
    w = np.array([new[n]["hc_mm"] for n in both], float)
    fold = np.array([base[n]["fold"] for n in both])
    groups = [("all", np.ones(len(both), bool)), (f"HC < {LARGE_HC_MM:.0f} mm", ref < LARGE_HC_MM),
              (f"HC >= {LARGE_HC_MM:.0f} mm", ref >= LARGE_HC_MM)]
    groups += [(f"fold {k}", fold == k) for k in sorted({r["fold"] for r in base_rows})]
    unanswered = {"base": sum(r["hc_mm"] is None for r in base_rows), "new": sum(r["hc_mm"] is None for r in new_rows)}
    return [_diff(g, ref[m], b[m], w[m]) for g, m in groups], unanswered


def format_comparison(diffs: list[PairedDiff], unanswered: dict[str, int], min_gain_mm: float, n_se: float) -> str:
    lines = ["| images | n | base MAE | new MAE | paired diff (SE) |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {d.group} | {d.n} | {d.mae_base:.3f} | {d.mae_new:.3f} | {d.diff:+.3f} ({d.se:.3f}) |"
              for d in diffs]
    verdict = "passes" if diffs[0].passes(min_gain_mm, n_se) else "does not pass"
    lines.append(f"unanswered: base {unanswered['base']}, new {unanswered['new']}. The new recipe {verdict} the "
                 f"rule (better by >= {min_gain_mm} mm and by more than {n_se} paired SE).")
    return "\n".join(lines)
