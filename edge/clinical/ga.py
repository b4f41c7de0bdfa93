"""Gestational age: one entry point `estimate_ga(method, **mm)` and the choosing policy `best_ga(**mm)`.

Policy (docs/clinical_formulas.md):
1. INTERGROWTH-21st (international, derived with first-trimester-confirmed dates): HC+FL when both are
   present, else HC alone, used as the answer inside its published window, 14+0 to 25+6 weeks
   (98-181 days: Papageorghiou et al. 2016 built it for women first seen in the 2nd trimester).
2. Outside that window, the Hadlock 1984 regression that uses the most of the available measurements and
   gives a number (all four of BPD, HC, AC, FL: Hadlock's combinations cut 3rd-trimester variability by
   about 25-30%).
3. If no Hadlock regression gives a number, the INTERGROWTH answer (still inside its own 14-40 week range).
With device_bpd=True the BPD given is outer-to-outer (the device's calipers) and is converted for the
formulas built on outer-to-inner (edge.clinical.conventions); the method then names the conversion.
Nothing given: InputError; only Measurements without a number: no_measurement with their reasons.
Inputs present but every method refused: the first refusal, with its reason.
"""

from __future__ import annotations

from edge.clinical.hadlock import hadlock_ga_formulas
from edge.clinical.intergrowth import intergrowth_ga_formulas
from edge.clinical.ranges import BIOMETRY, Formula, check_inputs, run_formula
from edge.errors import InputError
from edge.results import FLAG_NO_MEASUREMENT, Measurement

INTERGROWTH_WINDOW_DAYS = (98.0, 181.0)


def ga_formulas() -> dict[str, Formula]:
    """Every GA method by name."""
    return {**hadlock_ga_formulas(), **intergrowth_ga_formulas()}


GA_METHODS: tuple[str, ...] = tuple(sorted(ga_formulas()))


def estimate_ga(method: str, quality: float | None = None, device_bpd: bool = False, **mm: object) -> Measurement:
    """GA in days by `method` from biometry in mm (numbers or Measurements); see GA_METHODS."""
    formulas = ga_formulas()
    if method not in formulas:
        raise InputError(f"unknown GA method {method!r}; valid: {list(GA_METHODS)}")
    return run_formula(formulas[method], mm, quality, device_bpd)


def _has_number(raw: object) -> bool:
    return raw is not None and (not isinstance(raw, Measurement) or raw.value is not None)


def best_ga(quality: float | None = None, device_bpd: bool = False, **mm: object) -> Measurement:
    """GA by the policy in the module docstring, from whichever of hc, bpd, ac, fl (mm) are given."""
    check_inputs("best_ga", (), mm)
    usable = [n for n in BIOMETRY if n != "ofd"]
    given = {k: v for k, v in mm.items() if v is not None and k != "ofd"}
    if not given:
        raise InputError(f"best_ga: no measurement given ({sorted(mm)}); give one of {usable} in mm")
    present = {k for k, v in given.items() if _has_number(v)}
    if not present:   # only Measurements without a number: no GA, and why
        why = "; ".join(f"{k}: {getattr(v, 'reason', None) or getattr(v, 'flag', '')}" for k, v in given.items())
        return Measurement("ga", None, "d", 0.0, FLAG_NO_MEASUREMENT, None, None, f"no usable biometry ({why})")
    formulas = ga_formulas()
    refusals: list[Measurement] = []

    def first_number(methods: list[str]) -> Measurement | None:
        for method in methods:
            formula = formulas[method]
            if set(formula.inputs) <= present:
                result = run_formula(formula, {n: mm[n] for n in formula.inputs}, quality, device_bpd)
                if result.value is not None:
                    return result
                refusals.append(result)
        return None

    intergrowth = first_number(["intergrowth21_hc_fl", "intergrowth21_hc"])
    lo, hi = INTERGROWTH_WINDOW_DAYS
    if intergrowth is not None and lo <= intergrowth.value <= hi:
        return intergrowth
    hadlock = sorted((m for m in formulas if m.startswith("hadlock1984_")),
                     key=lambda m: -len(formulas[m].inputs))
    fallback = first_number(hadlock)
    if fallback is not None:
        return fallback
    if intergrowth is not None:
        return intergrowth
    return refusals[0] if refusals else Measurement(
        "ga", None, "d", 0.0, FLAG_NO_MEASUREMENT, None, None, "no GA method applies")
