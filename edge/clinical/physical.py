"""Physical plausibility: is a length one a fetus can have, and is the frame one an obstetric probe can make?

One rule, used wherever a length is made or leaves the device (`edge.biometry.measure`, the exam runner,
the results store, the sync payload schema), so no number passes one and is refused by another. A length
outside it gets no number: flag out_of_range, value None, and a reason naming the likely cause.

1. Physiological range of each length, in mm: from the earliest gestational age at which fetal biometry is
   taken (EARLIEST_GA_WEEKS: the 11+0 to 13+6 week scan) to the latest the formulas cover (Hadlock 1984:
   42 weeks), read off Hadlock 1984's single-parameter regression for that length. Below its 14-week span
   the regression is extrapolated; it gives smaller values than real 11-week fetuses, so the bound errs
   towards accepting. The span is widened by PATHOLOGY_FACTOR both ways so that microcephaly, hydrocephalus
   and other extremes are still reported (and flagged by the clinical layer), never refused. OFD has no
   regression: it is the major axis of the head ellipse whose perimeter is HC, so between HC/pi (a circle)
   and HC/2 (a flat ellipse).
2. Field of view of the frame (its sides x pixel size): at most MAX_FOV_MM on the longer side, at least
   MIN_FOV_MM on the shorter (docs/biometry.md, "Physical plausibility", says why these numbers). A frame
   outside it means the pixel size is wrong, so no length measured on it is given.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Mapping

from edge.clinical.hadlock import GA_RANGE_DAYS, SOURCE as HADLOCK, hadlock_ga_formulas
from edge.errors import InputError
from edge.results import FLAG_OUT_OF_RANGE, ExamResult, Measurement

EARLIEST_GA_WEEKS = 11.0   # ISUOG first-trimester scan window 11+0 to 13+6 weeks: the earliest head biometry
PATHOLOGY_FACTOR = 1.5     # x or / on the normal span: extremes of disease are reported, scale errors are not
MAX_FOV_MM = 600.0         # two 30 cm depths: the deepest curvilinear abdominal setting plus the screen around it
MIN_FOV_MM = 10.0          # a 1 cm field: smaller than any zoomed first-trimester view
LENGTHS = ("hc", "bpd", "ofd", "ac", "fl")


def _invert(days_of_mm: Any, days: float) -> float:
    """The length (mm) a monotonic GA regression maps to `days`, by bisection over 0.01-1000 mm."""
    lo, hi = 0.01, 1000.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if days_of_mm(mid) < days else (lo, mid)
    return (lo + hi) / 2


def _derive_ranges() -> dict[str, tuple[float, float]]:
    formulas = hadlock_ga_formulas()
    earliest, latest = EARLIEST_GA_WEEKS * 7.0, GA_RANGE_DAYS[1]
    out = {}
    for name in ("hc", "bpd", "ac", "fl"):
        f = formulas[f"hadlock1984_{name}"]
        days = lambda mm, f=f, name=name: f.compute({name: mm})  # noqa: E731
        lo, hi = _invert(days, earliest), _invert(days, latest)
        out[name] = (round(lo / PATHOLOGY_FACTOR, 1), round(hi * PATHOLOGY_FACTOR, 1))
    out["ofd"] = (round(out["hc"][0] / math.pi, 1), round(out["hc"][1] / 2.0, 1))
    return out


RANGES_MM: dict[str, tuple[float, float]] = _derive_ranges()
BASIS = (f"{EARLIEST_GA_WEEKS:g} to {GA_RANGE_DAYS[1] / 7:g} weeks by {HADLOCK}, widened x{PATHOLOGY_FACTOR:g} "
         "for disease")


def length_problem(name: str, value_mm: float, mm_per_px: float | None = None, cause: str | None = None) -> str | None:
    """Why `value_mm` cannot be this length of a fetus, or None when it can (or `name` is not a length)."""
    if name not in RANGES_MM:
        return None
    lo, hi = RANGES_MM[name]
    if lo <= value_mm <= hi:
        return None
    if cause is None:
        cause = (f"check the pixel size ({mm_per_px:g} mm per pixel)" if mm_per_px is not None
                 else "check the pixel size it was measured with, or the value given")
    return (f"{name.upper()} {value_mm:g} mm is outside what a fetus can have ({lo:g}-{hi:g} mm: {BASIS}); "
            f"{cause}")


def _size(mm: float) -> str:
    return f"{mm / 1000:.2f} m" if mm >= 1000 else f"{mm:.3g} mm"


def field_of_view_problem(shape: tuple[int, ...], mm_per_px: float) -> str | None:
    """Why a frame of `shape` (rows, cols, ...) at `mm_per_px` cannot be an obstetric image, or None."""
    h, w = int(shape[0]), int(shape[1])
    if min(h, w) * mm_per_px >= MIN_FOV_MM and max(h, w) * mm_per_px <= MAX_FOV_MM:
        return None
    return (f"pixel size {mm_per_px:g} mm makes this {w} x {h} px image {_size(w * mm_per_px)} wide and "
            f"{_size(h * mm_per_px)} tall (an obstetric probe shows {_size(MIN_FOV_MM)} to {_size(MAX_FOV_MM)} "
            "across): check the pixel size")


NO_NUMBER = {"centile": None, "z": None, "centile_reason": "no centile without a number"}


def refuse(m: Measurement, why: str) -> Measurement:
    """The measurement without its number (nor a centile of it): flag out_of_range and the reason."""
    return replace(m, value=None, flag=FLAG_OUT_OF_RANGE, reason=why, **NO_NUMBER)


def check_given(given_mm: Mapping[str, float]) -> dict[str, float]:
    """Lengths typed in by the user (e.g. AC, FL from the scanner's calipers), refused before the exam starts."""
    for name, value in given_mm.items():
        why = length_problem(name, float(value), cause="check the value (millimetres, not centimetres?)")
        if why is not None:
            raise InputError(f"given {name} = {float(value):g} mm: {why}")
    return dict(given_mm)


def judge(m: Measurement, mm_per_px: float | None = None) -> Measurement:
    """`m` as it is when plausible, else refused."""
    why = length_problem(m.name, m.value, mm_per_px) if m.value is not None and m.unit == "mm" else None
    return m if why is None else refuse(m, why)


def judge_exam(exam: ExamResult) -> ExamResult:
    """The exam with every implausible length refused (a no-op when its producers applied the rule)."""
    return replace(exam, measurements={k: judge(m) for k, m in exam.measurements.items()})


def judge_exam_dict(exam: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """An exam's JSON form with implausible lengths refused, and one line per refusal (for the store)."""
    out, notes = dict(exam), []
    meas = dict(out.get("measurements") or {})
    for name, m in meas.items():
        value = m.get("value") if isinstance(m, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and m.get("unit") == "mm":
            why = length_problem(name, float(value))
            if why is not None:
                meas[name] = {**m, "value": None, "flag": FLAG_OUT_OF_RANGE, "reason": why,
                              **{k: v for k, v in NO_NUMBER.items() if k in m}}
                notes.append(f"result {out.get('result_id')}: {why}")
    out["measurements"] = meas
    return out, notes


__all__ = ["RANGES_MM", "MAX_FOV_MM", "MIN_FOV_MM", "length_problem", "field_of_view_problem", "refuse",
           "check_given", "judge", "judge_exam", "judge_exam_dict"]
