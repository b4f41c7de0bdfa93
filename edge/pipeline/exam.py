"""Exam builder: per-frame head measurements + plane counts -> one ExamResult with GA, EFW, centiles, alerts.

Lengths are the median over the best frames that gave a number (n_frames says how many). AC and FL come
only from the user (--given: source "manual"; this device ships no abdomen or femur model). The clinical
layer (edge.clinical.assess) dates the exam (established GA wins over biometry), judges size for GA and
raises alerts. Plausibility cross-checks flag the measurements involved, never hide them. A clinical
error found at the end of the scan (e.g. an LMP that is impossible on the exam date) never loses the exam:
it is built without the clinical interpretation and carries the error in `exam_flags`.
"""

from __future__ import annotations

import logging
import re
import statistics
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timezone
from typing import Any, Iterable

from edge.clinical import plausibility_checks
from edge.clinical.alerts import DEFAULT_RULES, AlertRule
from edge.clinical.assess import BEST_GA, NO_MODEL, assess, method_inputs
from edge.clinical.dating import Pregnancy
from edge.errors import FetalEdgeError
from edge.manifest import ModelRef
from edge.results import (FLAG_IMPLAUSIBLE, FLAG_LOW_QUALITY, FLAG_NO_MEASUREMENT, FLAG_OK, ExamResult, Measurement,
                          no_dating)

log = logging.getLogger(__name__)
__all__ = ["build_exam", "combine", "method_inputs", "given_measurement", "exam_date"]
MANUAL_METHOD = "manual_caliper"


def no_measurement(name: str, unit: str, reason: str, method: str | None = None) -> Measurement:
    return Measurement(name, None, unit, 0.0, FLAG_NO_MEASUREMENT, None, method, reason, 0)


def combine(name: str, per_frame: list[Measurement], no_frames_reason: str) -> Measurement:
    """Median over the frames that gave a number; no_measurement with the commonest reason otherwise."""
    valid = [m for m in per_frame if m.value is not None]
    if not valid:
        reasons = Counter((m.flag, m.reason) for m in per_frame if m.reason)
        flag, reason = reasons.most_common(1)[0][0] if reasons else (FLAG_NO_MEASUREMENT, no_frames_reason)
        m = no_measurement(name, "mm", f"{reason} (on {len(per_frame)} best frame(s))" if per_frame else reason)
        return replace(m, flag=flag)   # out_of_range (an impossible length) stays out_of_range
    value = float(statistics.median(m.value for m in valid))
    quality = float(statistics.median(m.quality for m in valid))
    n_ok = sum(m.flag == FLAG_OK for m in valid)
    flag = FLAG_OK if n_ok * 2 > len(valid) else FLAG_LOW_QUALITY
    reason = None if flag == FLAG_OK else f"{len(valid) - n_ok} of {len(valid)} frames below the quality gate"
    return Measurement(name, round(value, 2), valid[0].unit, round(quality, 3), flag, valid[0].model,
                       valid[0].method, reason, len(valid))


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


def given_measurement(name: str, value_mm: float) -> Measurement:
    """A length the sonographer read off the scanner's own calipers (source "manual")."""
    return Measurement(name, float(value_mm), "mm", 1.0, FLAG_OK, None, MANUAL_METHOD,
                       "given by the user from the scanner's calipers", 0, source="manual")


def exam_date(started_at: str) -> date:
    """The calendar day of the exam (UTC date of its start; today if the time does not parse)."""
    try:
        return datetime.fromisoformat(started_at.replace("Z", "+00:00")).date()
    except (AttributeError, ValueError):
        return datetime.now(timezone.utc).date()


def interpret(lengths: dict[str, Measurement], pregnancy: Pregnancy, on: date, ga_method: str, efw_method: str,
              rules: tuple[AlertRule, ...]) -> tuple[dict[str, Measurement], list[dict[str, Any]], dict[str, Any],
                                                      list[dict[str, Any]], list[str]]:
    """(measurements, plausibility, dating, alerts, exam_flags); a clinical error becomes an exam flag."""
    values = {k: float(m.value) for k, m in lengths.items() if m.value is not None}
    try:
        first = assess(lengths, pregnancy, on, ga_method, efw_method, rules)
        checks = list(plausibility_checks(values, first.dating["ga_days"])) if values else []
        flagged = flag_implausible(lengths, checks)
        result = assess(flagged, pregnancy, on, ga_method, efw_method, rules) if flagged != lengths else first
        return result.measurements, checks, result.dating, result.alerts, []
    except Exception as exc:   # the exam is kept (a bug included); what went wrong travels with it
        kind = "late_config_error" if isinstance(exc, FetalEdgeError) else "late_internal_error"
        if kind == "late_internal_error":
            log.exception("clinical interpretation failed; the exam is kept without it")
        reason = f"{kind}: {type(exc).__name__}: {exc}"[:500]
        gone = {n: Measurement(n, None, u, 0.0, FLAG_NO_MEASUREMENT, None, None, reason, 0)
                for n, u in (("ga", "d"), ("efw", "g"))}
        return {**lengths, **gone}, [], no_dating(), [], [reason]


def build_exam(*, clinic_id: str, device_id: str, started_at: str, ended_at: str, status: str,
               head_frames: list[dict[str, Measurement]], no_head_reason: str, planes_seen: dict[str, int],
               models: list[ModelRef], frames: int, dropped: int, fps: float | None, ga_method: str = BEST_GA,
               efw_method: str = "intergrowth21_hc_ac", given_mm: dict[str, float] | None = None,
               pregnancy: Pregnancy | None = None, rules: tuple[AlertRule, ...] = DEFAULT_RULES,
               plane_summary: dict[str, Any] | None = None) -> ExamResult:
    pregnancy = pregnancy or Pregnancy()
    lengths: dict[str, Measurement] = {}
    for name in ("hc", "bpd", "ofd"):
        lengths[name] = combine(name, [f[name] for f in head_frames if name in f], no_head_reason)
    for name in ("ac", "fl"):
        lengths[name] = (given_measurement(name, given_mm[name]) if given_mm and name in given_mm
                         else no_measurement(name, "mm", NO_MODEL[name]))
    meas, checks, dating, alerts, flags = interpret(lengths, pregnancy, exam_date(started_at), ga_method,
                                                    efw_method, rules)
    summary = plane_summary or {"frames_classified": frames, "unknown_frames": int(planes_seen.get("unknown", 0)),
                                "mean_confidence": None}
    return ExamResult(clinic_id=clinic_id, device_id=device_id, started_at=started_at, ended_at=ended_at,
                      status=status, models=models, planes_seen=dict(planes_seen), measurements=meas,
                      plausibility=checks, frames=frames, frames_dropped=dropped,
                      fps=round(fps, 1) if fps else None, pregnancy=pregnancy.to_dict(), dating=dating,
                      alerts=alerts, exam_flags=flags, plane_summary=summary)


def live_alerts(lengths: dict[str, Measurement], pregnancy: Pregnancy, rules: tuple[AlertRule, ...]) -> list[str]:
    """Rule names the head measurements so far raise (for the status line); none without an established GA."""
    try:
        return [a["rule"] for a in assess(lengths, pregnancy, date.today(), BEST_GA, "intergrowth21_hc_ac",
                                          rules).alerts]
    except FetalEdgeError:
        return []
