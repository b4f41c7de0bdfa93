"""Gestational age: one entry point `estimate_ga(method, **mm)` and the choosing policy `best_ga(**mm)`.

Policy (docs/clinical_formulas.md):
1. INTERGROWTH-21st (international, derived with first-trimester-confirmed dates): HC+FL when both are
   present, else HC alone. Used as the answer when it falls in the 2nd trimester (< 28+0 weeks).
2. From 28 weeks, when BPD, HC, AC and FL are all present, the Hadlock 1984 four-parameter regression
   (Hadlock: combining parameters cuts 3rd-trimester variability by about 25-30%).
3. Otherwise the INTERGROWTH answer if there is one; else the Hadlock 1984 regression that uses the most
   of the available measurements and gives a number.
Nothing given: InputError; only Measurements without a number: no_measurement with their reasons.
Inputs present but every method refused: the first refusal, with its reason.
"""

from __future__ import annotations

from edge.clinical.hadlock import hadlock_ga_formulas
from edge.clinical.intergrowth import intergrowth_ga_formulas
from edge.clinical.ranges import BIOMETRY, Formula, check_inputs, evaluate
from edge.errors import InputError
from edge.results import FLAG_NO_MEASUREMENT, Measurement

THIRD_TRIMESTER_DAYS = 28 * 7


def ga_formulas() -> dict[str, Formula]:
    """Every GA method by name."""
    return {**hadlock_ga_formulas(), **intergrowth_ga_formulas()}


GA_METHODS: tuple[str, ...] = tuple(sorted(ga_formulas()))


def estimate_ga(method: str, quality: float | None = None, **mm: object) -> Measurement:
    """GA in days by `method` from biometry in mm (numbers or Measurements); see GA_METHODS."""
    formulas = ga_formulas()
    if method not in formulas:
        raise InputError(f"unknown GA method {method!r}; valid: {list(GA_METHODS)}")
    return evaluate(formulas[method], mm, quality)


def _has_number(raw: object) -> bool:
    return raw is not None and (not isinstance(raw, Measurement) or raw.value is not None)


def best_ga(quality: float | None = None, **mm: object) -> Measurement:
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
                result = evaluate(formula, {n: mm[n] for n in formula.inputs}, quality)
                if result.value is not None:
                    return result
                refusals.append(result)
        return None

    intergrowth = first_number(["intergrowth21_hc_fl", "intergrowth21_hc"])
    if intergrowth is not None and intergrowth.value < THIRD_TRIMESTER_DAYS:
        return intergrowth
    four = first_number(["hadlock1984_bpd_hc_ac_fl"])
    if four is not None:
        return four
    if intergrowth is not None:
        return intergrowth
    hadlock = sorted((m for m in formulas if m.startswith("hadlock1984_")),
                     key=lambda m: -len(formulas[m].inputs))
    fallback = first_number(hadlock)
    if fallback is not None:
        return fallback
    return refusals[0] if refusals else Measurement(
        "ga", None, "d", 0.0, FLAG_NO_MEASUREMENT, None, None, "no GA method applies")
