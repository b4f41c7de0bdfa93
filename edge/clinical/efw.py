"""Estimated fetal weight: Hadlock 1985 and INTERGROWTH-21st, through one entry point `estimate_efw`.

Hadlock FP, Harrist RB, Sharman RS, Deter RL, Park SK. Estimation of fetal weight with the use of head,
body, and femur measurements - a prospective study. Am J Obstet Gynecol 1985;151:333-337.
log10(EFW g) from measurements in cm. Validity (our policy, stated in docs/clinical_formulas.md): inputs
within the 14-42 week span of Hadlock 1984 and the estimate within EFW_RANGE_G; outside: no number.
"""

from __future__ import annotations

from typing import Callable, Mapping

from edge.clinical.hadlock import INPUT_RANGES_MM
from edge.clinical.intergrowth import intergrowth_efw_formulas
from edge.clinical.ranges import Formula, cm, run_formula
from edge.errors import InputError
from edge.results import Measurement

SOURCE = "Hadlock et al. 1985, Am J Obstet Gynecol 151:333-337"
PRECISION = "about +-15% (2SD) of the estimate, the figure usually quoted (not restated from the paper)"
EFW_RANGE_G = (300.0, 5000.0)

# log10(EFW) from cm (b=BPD, h=HC, a=AC, f=FL).
_LOG10: dict[tuple[str, ...], Callable[..., float]] = {
    ("ac", "fl"): lambda a, f: 1.304 + 0.05281 * a + 0.1938 * f - 0.004 * a * f,
    ("bpd", "ac"): lambda b, a: (1.1134 + 0.05845 * a - 0.000604 * a ** 2 - 0.007365 * b ** 2
                                 + 0.000595 * b * a + 0.1694 * b),
    ("hc", "ac"): lambda h, a: 1.182 + 0.0273 * h + 0.07057 * a - 0.00063 * a ** 2 - 0.0002184 * h * a,
    ("bpd", "ac", "fl"): lambda b, a, f: 1.335 - 0.0034 * a * f + 0.0316 * b + 0.0457 * a + 0.1623 * f,
    ("hc", "ac", "fl"): lambda h, a, f: 1.326 - 0.00326 * a * f + 0.0107 * h + 0.0438 * a + 0.158 * f,
    ("bpd", "hc", "ac", "fl"): lambda b, h, a, f: (1.3596 - 0.00386 * a * f + 0.0064 * h + 0.00061 * b * a
                                                   + 0.0424 * a + 0.174 * f),
}


def _grams(fn: Callable[..., float], names: tuple[str, ...]) -> Callable[[Mapping[str, float]], float]:
    return lambda mm: 10.0 ** fn(*(cm(mm[n]) for n in names))


def _hadlock_efw_formulas() -> dict[str, Formula]:
    out = {}
    for names, fn in _LOG10.items():
        method = "hadlock1985_" + "_".join(names)
        out[method] = Formula(method, "efw", names, _grams(fn, names),
                              {n: INPUT_RANGES_MM[n] for n in names}, EFW_RANGE_G, SOURCE, PRECISION)
    return out


def efw_formulas() -> dict[str, Formula]:
    """Every EFW method by name."""
    return {**_hadlock_efw_formulas(), **intergrowth_efw_formulas()}


EFW_METHODS: tuple[str, ...] = tuple(sorted(efw_formulas()))


def estimate_efw(method: str, quality: float | None = None, device_bpd: bool = False, **mm: object) -> Measurement:
    """EFW in grams by `method` from biometry in mm (numbers or Measurements); see EFW_METHODS.
    device_bpd: BPD is outer-to-outer and is converted for Hadlock's outer-to-inner equations."""
    formulas = efw_formulas()
    if method not in formulas:
        raise InputError(f"unknown EFW method {method!r}; valid: {list(EFW_METHODS)}")
    return run_formula(formulas[method], mm, quality, device_bpd)
