"""A clinical formula with its validity range, and the one function that turns inputs into a Measurement.

Every formula takes biometry in millimetres (the unit the rest of fetal-edge uses) and declares:
the inputs it needs, the range of each input it is valid for, the range of its output the source
population covered, its source, and its stated precision. `evaluate` refuses (flag out_of_range,
value None, reason naming the input and the valid range) instead of extrapolating.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Mapping

from edge.clinical.conventions import inputs_for, tagged
from edge.errors import InputError
from edge.results import (FLAG_IMPLAUSIBLE, FLAG_LOW_QUALITY, FLAG_NO_MEASUREMENT, FLAG_OK,
                          FLAG_OUT_OF_RANGE, Measurement)

BIOMETRY = ("hc", "bpd", "ofd", "ac", "fl")   # the keyword names every formula understands (mm)
LOW_QUALITY_BELOW = 0.5                       # a plain-number input's quality is 1.0 unless given
MM_PER_CM = 10.0


def cm(mm: float) -> float:
    """The one place millimetres become centimetres (Hadlock's formulas are written in cm)."""
    return mm / MM_PER_CM


@dataclass(frozen=True)
class Formula:
    """One published regression: inputs in mm -> GA in days or EFW in grams."""

    method: str                                   # e.g. "hadlock1984_hc"
    quantity: str                                 # "ga" (unit "d") or "efw" (unit "g")
    inputs: tuple[str, ...]                       # biometry names it needs
    compute: Callable[[Mapping[str, float]], float]
    input_ranges: Mapping[str, tuple[float, float]]  # mm, inclusive
    output_range: tuple[float, float]             # days / grams covered by the source population
    source: str
    precision: str                                # the source's stated SD / 2SD / error

    @property
    def unit(self) -> str:
        return "d" if self.quantity == "ga" else "g"


def _input(name: str, raw: object) -> tuple[float | None, float, str, str | None]:
    """(value or None, quality, flag, reason) of one input given as a number or a Measurement."""
    if isinstance(raw, Measurement):
        if raw.unit != "mm":
            raise InputError(f"{name}: a Measurement in {raw.unit!r}; expected millimetres ('mm')")
        return raw.value, raw.quality, raw.flag, raw.reason
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise InputError(f"{name}={raw!r}: expected a length in mm (a number or a Measurement)")
    value = float(raw)
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{name}={raw!r}: a length in mm must be a finite number > 0")
    return value, 1.0, FLAG_OK, None


def check_inputs(method: str, needed: tuple[str, ...], given: Mapping[str, object]) -> None:
    """InputError for unknown keyword names or missing inputs; extra known biometry is allowed."""
    unknown = sorted(set(given) - set(BIOMETRY))
    if unknown:
        raise InputError(f"{method}: unknown input(s) {unknown}; valid names are {list(BIOMETRY)} (mm)")
    missing = [n for n in needed if given.get(n) is None]
    if missing:
        raise InputError(f"{method}: needs {list(needed)} in mm; missing {missing}")


def evaluate(formula: Formula, given: Mapping[str, object], quality: float | None = None) -> Measurement:
    """Apply a formula. Quality = min of input qualities (and `quality` if given); flag = worst input flag."""
    check_inputs(formula.method, formula.inputs, given)
    values: dict[str, float] = {}
    qualities = [] if quality is None else [float(quality)]
    flags: list[str] = []
    for name in formula.inputs:
        value, q, flag, why = _input(name, given[name])
        qualities.append(q)
        if value is None:   # an input Measurement that carries no number: no GA / EFW either
            return _refuse(formula, FLAG_NO_MEASUREMENT, min(qualities),
                           f"no {name}: {why or flag}")
        flags.append(flag)
        values[name] = value
    q = max(0.0, min(1.0, min(qualities)))
    for name, value in values.items():
        lo, hi = formula.input_ranges[name]
        if not lo <= value <= hi:
            return _refuse(formula, FLAG_OUT_OF_RANGE, q,
                           f"{name}={value:.1f} mm is outside {formula.method}'s valid range "
                           f"{lo:g}-{hi:g} mm ({formula.source})")
    result = formula.compute(values)
    lo, hi = formula.output_range
    if not lo <= result <= hi:
        return _refuse(formula, FLAG_OUT_OF_RANGE, q,
                       f"result {result:.0f} {formula.unit} is outside the {lo:g}-{hi:g} {formula.unit} "
                       f"{formula.method} is valid for ({formula.source}; docs/clinical_formulas.md)")
    if FLAG_IMPLAUSIBLE in flags:
        flag = FLAG_IMPLAUSIBLE
    elif FLAG_LOW_QUALITY in flags or q < LOW_QUALITY_BELOW:
        flag = FLAG_LOW_QUALITY
    else:
        flag = FLAG_OK
    return Measurement(name=formula.quantity, value=round(result, 2), unit=formula.unit, quality=q,
                       flag=flag, model=None, method=formula.method,
                       reason=f"{formula.source}; precision: {formula.precision}")


def _refuse(formula: Formula, flag: str, quality: float, reason: str) -> Measurement:
    return Measurement(name=formula.quantity, value=None, unit=formula.unit, quality=quality,
                       flag=flag, model=None, method=formula.method, reason=reason)


def run_formula(formula: Formula, mm: dict, quality: float | None, device_bpd: bool) -> Measurement:
    """evaluate() with a device BPD converted to the formula's caliper convention (and the method saying so)."""
    given, converted = inputs_for(formula.method, mm, device_bpd)
    result = evaluate(formula, given, quality)
    return replace(result, method=tagged(result.method, converted)) if converted else result
