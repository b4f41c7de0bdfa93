"""Hadlock 1984 gestational-age regressions (Radiology 152:497-501).

Hadlock FP, Deter RL, Harrist RB, Park SK. Estimating fetal age: computer-assisted analysis of multiple
fetal growth parameters. Cross-sectional study of 361 fetuses, 14 to 42 menstrual weeks. Measurements in
cm in the paper (converted from mm by `ranges.cm`, the one place), menstrual age in weeks; returned in days.

Validity: each input must lie in the range its single-parameter regression maps to 14-42 weeks (the
study's span, numbers below, mm), and the estimate itself must lie in 14-42 weeks.
"""

from __future__ import annotations

from typing import Callable, Mapping

from edge.clinical.ranges import Formula, cm

SOURCE = "Hadlock et al. 1984, Radiology 152:497-501"
GA_RANGE_DAYS = (14 * 7.0, 42 * 7.0)
# Input (mm) whose single-parameter Hadlock age is 14.0 and 42.0 weeks, rounded outwards.
INPUT_RANGES_MM = {"bpd": (23.0, 102.0), "hc": (89.0, 358.0), "ac": (75.0, 381.0), "fl": (13.0, 83.0)}
PRECISION = ("2SD about +-1.2 wk at 12-18 wk rising to about +-3 wk after 30 wk for one parameter; "
             "combinations narrow it by about a quarter in the 3rd trimester")
# 2SD (weeks) of the HC estimate by HC band (mm), as tabulated with 'GA by HC - Hadlock1984'
HC_BANDS_2SD_WEEKS = ((68.0, 144.0, 1.19), (151.0, 219.0, 1.48), (224.0, 280.0, 2.06), (284.0, 325.0, 2.98),
                      (328.0, 360.0, 3.2))
HC_PRECISION = ("2SD +-1.19 wk for HC 68-144 mm, +-1.48 (151-219), +-2.06 (224-280), +-2.98 (284-325), "
                "+-3.2 (328-360), as tabulated with 'GA by HC - Hadlock1984'")

# Menstrual age in weeks from measurements in cm (b=BPD, h=HC, a=AC, f=FL).
_WEEKS: dict[tuple[str, ...], Callable[..., float]] = {
    ("bpd",): lambda b: 9.54 + 1.482 * b + 0.1676 * b ** 2,
    ("hc",): lambda h: 8.96 + 0.540 * h + 0.0003 * h ** 3,
    ("ac",): lambda a: 8.14 + 0.753 * a + 0.0036 * a ** 2,
    ("fl",): lambda f: 10.35 + 2.460 * f + 0.170 * f ** 2,
    ("bpd", "ac"): lambda b, a: 9.57 + 0.524 * a + 0.1220 * b ** 2,
    ("bpd", "fl"): lambda b, f: 10.50 + 0.197 * b * f + 0.9500 * f + 0.7300 * b,
    ("bpd", "hc"): lambda b, h: 10.32 + 0.0090 * h ** 2 + 1.3200 * b + 0.00012 * h ** 3,
    ("hc", "ac"): lambda h, a: 10.31 + 0.012 * h ** 2 + 0.385 * a,
    ("hc", "fl"): lambda h, f: 11.19 + 0.070 * h * f + 0.2630 * h,
    ("ac", "fl"): lambda a, f: 10.47 + 0.442 * a + 0.314 * f ** 2 - 0.0121 * f ** 3,
    ("bpd", "hc", "ac"): lambda b, h, a: 10.58 + 0.005 * h ** 2 + 0.3635 * a + 0.02864 * b * a,
    ("bpd", "hc", "fl"): lambda b, h, f: 11.38 + 0.070 * h * f + 0.9800 * b,
    ("bpd", "ac", "fl"): lambda b, a, f: 10.61 + 0.175 * b * f + 0.297 * a + 0.710 * f,
    ("hc", "ac", "fl"): lambda h, a, f: 10.33 + 0.031 * h * f + 0.361 * h + 0.0298 * a * f,
    ("bpd", "hc", "ac", "fl"): lambda b, h, a, f: 10.85 + 0.060 * h * f + 0.6700 * b + 0.1680 * a,
}


def _days(weeks_fn: Callable[..., float], names: tuple[str, ...]) -> Callable[[Mapping[str, float]], float]:
    return lambda mm: 7.0 * weeks_fn(*(cm(mm[n]) for n in names))


def hadlock_ga_formulas() -> dict[str, Formula]:
    """Every Hadlock 1984 GA regression, keyed by method name, e.g. "hadlock1984_hc_ac_fl"."""
    out = {}
    for names, fn in _WEEKS.items():
        method = "hadlock1984_" + "_".join(names)
        out[method] = Formula(method=method, quantity="ga", inputs=names, compute=_days(fn, names),
                              input_ranges={n: INPUT_RANGES_MM[n] for n in names},
                              output_range=GA_RANGE_DAYS, source=SOURCE,
                              precision=HC_PRECISION if names == ("hc",) else PRECISION)
    return out
