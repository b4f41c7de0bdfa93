"""Exam builder: per-frame head measurements + plane counts -> one ExamResult with GA, EFW, checks.

Lengths are the median over the best frames that gave a number (n_frames says how many). GA and EFW
use the configured method when its inputs exist; otherwise they say which input is missing and why
(this device ships no abdomen or femur model, so AC, FL and with them EFW are out of reach unless
the user gives them). Plausibility cross-checks flag the measurements involved, never hide them.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import replace
from typing import Any, Iterable

from edge.manifest import ModelRef
from edge.results import (FLAG_IMPLAUSIBLE, FLAG_LOW_QUALITY, FLAG_NO_MEASUREMENT, FLAG_OK, ExamResult,
                          Measurement)

LENGTHS = ("hc", "bpd", "ofd", "ac", "fl")
NO_MODEL_REASON = {
    "ac": "no abdomen measurement model on this device (the training data has no abdomen masks); give AC by hand",
    "fl": "no femur measurement model on this device (the training data has no femur masks); give FL by hand",
}


def method_inputs(method: str) -> tuple[str, ...]:
    """The lengths a formula needs, read from its name: 'hadlock1984_bpd_hc_ac_fl' -> (bpd, hc, ac, fl)."""
    return tuple(t for t in re.split(r"[_\-]", method) if t in LENGTHS)


def no_measurement(name: str, unit: str, reason: str, method: str | None = None) -> Measurement:
    return Measurement(name, None, unit, 0.0, FLAG_NO_MEASUREMENT, None, method, reason, 0)


def combine(name: str, per_frame: list[Measurement], no_frames_reason: str) -> Measurement:
    """Median over the frames that gave a number; no_measurement with the commonest reason otherwise."""
    valid = [m for m in per_frame if m.value is not None]
    if not valid:
        reasons = Counter(m.reason for m in per_frame if m.reason)
        reason = reasons.most_common(1)[0][0] if reasons else no_frames_reason
        return no_measurement(name, "mm", f"{reason} (on {len(per_frame)} best frame(s))" if per_frame else reason)
    value = float(statistics.median(m.value for m in valid))
    quality = float(statistics.median(m.quality for m in valid))
    n_ok = sum(m.flag == FLAG_OK for m in valid)
    flag = FLAG_OK if n_ok * 2 > len(valid) else FLAG_LOW_QUALITY
    reason = None if flag == FLAG_OK else f"{len(valid) - n_ok} of {len(valid)} frames below the quality gate"
    return Measurement(name, round(value, 2), valid[0].unit, round(quality, 3), flag, valid[0].model,
                       valid[0].method, reason, len(valid))


def _clinical() -> Any:
    import edge.clinical as clinical  # the clinical engineer's formulas

    return clinical


def gestational_age(method: str, lengths: dict[str, Measurement]) -> Measurement:
    need = method_inputs(method)
    missing = [n for n in need if lengths.get(n) is None or lengths[n].value is None]
    if missing:
        why = "; ".join(f"{n.upper()}: {lengths[n].reason if n in lengths else 'not measured'}" for n in missing)
        return no_measurement("ga", "d", f"{method} needs {', '.join(m.upper() for m in missing)} ({why})", method)
    quality = min(lengths[n].quality for n in need)
    return _clinical().estimate_ga(method, quality=quality, **{n: float(lengths[n].value) for n in need})


def fetal_weight(method: str, lengths: dict[str, Measurement]) -> Measurement:
    need = method_inputs(method)
    missing = [n for n in need if lengths.get(n) is None or lengths[n].value is None]
    if missing:
        names = " and ".join(m.upper() for m in missing)
        return no_measurement("efw", "g", f"EFW out of reach: {method} needs {names}, which were not measured "
                              f"(this device has no abdomen or femur measurement model: no such masks exist to "
                              f"train one); give {names} by hand to get an EFW", method)
    quality = min(lengths[n].quality for n in need)
    return _clinical().estimate_efw(method, quality=quality, **{n: float(lengths[n].value) for n in need})


def flag_implausible(lengths: dict[str, Measurement], checks: Iterable[dict[str, Any]]) -> dict[str, Measurement]:
    """A failed cross-check (e.g. 'bpd_ofd_ratio') flags every measurement it names; values are kept."""
    out = dict(lengths)
    for c in checks:
        if c.get("ok", True):
            continue
        for name in re.split(r"[_\-]", str(c.get("check", ""))):
            m = out.get(name)
            if m is not None and m.value is not None:
                note = f"fails {c['check']} = {c.get('value')} (expected {c.get('range')})"
                out[name] = replace(m, flag=FLAG_IMPLAUSIBLE, reason=f"{m.reason}; {note}" if m.reason else note)
    return out


def build_exam(*, clinic_id: str, device_id: str, started_at: str, ended_at: str, status: str,
               head_frames: list[dict[str, Measurement]], no_head_reason: str, planes_seen: dict[str, int],
               models: list[ModelRef], frames: int, dropped: int, fps: float | None, ga_method: str,
               efw_method: str, given_mm: dict[str, float] | None = None) -> ExamResult:
    lengths: dict[str, Measurement] = {}
    for name in ("hc", "bpd", "ofd"):
        lengths[name] = combine(name, [f[name] for f in head_frames if name in f], no_head_reason)
    for name in ("ac", "fl"):
        if given_mm and name in given_mm:
            lengths[name] = Measurement(name, float(given_mm[name]), "mm", 1.0, FLAG_OK, None, "user", None, 0)
        else:
            lengths[name] = no_measurement(name, "mm", NO_MODEL_REASON[name])
    values = {k: float(m.value) for k, m in lengths.items() if m.value is not None}
    ga = gestational_age(ga_method, lengths)
    checks = list(_clinical().plausibility_checks(values, ga.value)) if values else []
    lengths = flag_implausible(lengths, checks)
    efw = fetal_weight(efw_method, lengths)
    return ExamResult(clinic_id=clinic_id, device_id=device_id, started_at=started_at, ended_at=ended_at,
                      status=status, models=models, planes_seen=dict(planes_seen),
                      measurements={**lengths, "ga": ga, "efw": efw}, plausibility=checks, frames=frames,
                      frames_dropped=dropped, fps=round(fps, 1) if fps else None)
