"""Out-of-distribution measurement of a plane bundle (#27): how often junk is answered `unknown`, by what
(frame check, the junk output, the threshold), and how often real ultrasound is wrongly called junk.

The evaluation junk set is tests/junk_frames.py (kept with the tests, seeded, apart from the training
negatives); `load_junk_generator` imports it from the repository checkout.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterable, Sequence

import numpy as np

from edge.planes.classifier import PlanePrediction
from edge.planes.taxonomy import UNKNOWN

Classify = Callable[[np.ndarray], PlanePrediction]  # a frame -> the device's answer (PlaneClassifier.classify)
JUNK_REASON = "not an ultrasound view"  # edge.planes.classifier's reason when the junk output wins


def load_junk_generator(repo: Path) -> ModuleType:
    path = repo / "tests" / "junk_frames.py"
    spec = importlib.util.spec_from_file_location("junk_frames", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise FileNotFoundError(f"{path} not found: the evaluation junk set lives in the repository's tests/")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def refused_by(pred) -> str:  # type: ignore[no-untyped-def]
    """'answered' (a plane), 'frame check', 'junk output' or 'threshold'."""
    if pred.plane != UNKNOWN:
        return "answered"
    if pred.best is None:
        return "frame check"
    return "junk output" if (pred.reason or "").startswith(JUNK_REASON) else "threshold"


def junk_table(classify: Classify, frames: Iterable[tuple[np.ndarray, str]], seen: Sequence[str]) -> dict:
    """Per kind: n, share answered unknown, and the counts by what refused; plus seen / unseen / all rows."""
    per: dict[str, Counter] = {}
    for frame, kind in frames:
        per.setdefault(kind, Counter())[refused_by(classify(frame))] += 1

    def row(c: Counter) -> dict:
        n = sum(c.values())
        return {"n": n, "unknown_rate": 1.0 - c["answered"] / n, **{k: c[k] for k in
                ("frame check", "junk output", "threshold", "answered")}}

    groups = {"seen kinds": [k for k in per if k in seen], "unseen kinds": [k for k in per if k not in seen],
              "all": list(per)}
    return {"kinds": {k: {**row(c), "seen": k in seen} for k, c in per.items()},
            "groups": {g: row(sum((per[k] for k in ks), Counter())) for g, ks in groups.items() if ks}}


def real_junk_rate(classify: Classify, frames: Iterable[tuple[np.ndarray, str]]) -> dict:
    """Real ultrasound frames by source: how many are refused as junk (junk output or frame check)."""
    per: dict[str, Counter] = {}
    for frame, source in frames:
        per.setdefault(source, Counter())[refused_by(classify(frame))] += 1
    out = {}
    for source, c in list(per.items()) + [("all", sum(per.values(), Counter()))]:
        n = sum(c.values())
        out[source] = {"n": n, "junk_output": c["junk output"], "frame_check": c["frame check"],
                       "threshold": c["threshold"], "answered": c["answered"],
                       "junk_rate": c["junk output"] / n}
    return out
