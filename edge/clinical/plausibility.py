"""Biometric cross-checks that flag suspicious numbers (they never change or hide them).

Each check is a dict {"check", "value", "range": [lo, hi], "ok", "source"}; "check" names its two inputs
(e.g. "bpd_ofd_ratio", the cephalic index) so a consumer can flag them. A check is left out when
one of its inputs is missing, or when the gestational age is known and outside the span the reference
range was published for.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from edge.clinical.conventions import bpd_for
from edge.errors import InputError

FL_AC = (0.20, 0.24, 21 * 7,
         "Hadlock et al. 1983, AJR 141:979-984: FL/AC 0.22 +- 0.02 (2SD 0.20-0.24) from 21 weeks")
CEPHALIC_INDEX = (0.70, 0.86, 14 * 7,
                  "Hadlock et al. 1981, AJR 137:83-85: BPD/OFD mean 0.783, 1SD 0.74-0.83, 2SD about "
                  "0.70-0.86; outside suggests dolicho-/brachycephaly (BPD unreliable, prefer HC)")
FL_BPD = (0.71, 0.87, 23 * 7,
          "Hohler & Quetel 1981, Am J Obstet Gynecol 141:759-762: FL/BPD 0.79 +- 0.08 (2SD) from 23 weeks; "
          "BPD converted outer-to-outer -> outer-to-inner (Wong et al. 2018) as in the reference")
HC_AC_SOURCE = ("INTERGROWTH-21st fetal growth standards (Papageorghiou et al. 2014, Lancet 384:869-79): "
                "ratio of HC and AC medians at the GA +- 2 coefficients of variation (HC and AC SDs "
                "combined as if independent: a deliberately wide range); without GA, the union over 14-40 weeks")


def _igs_hc(ga_w: float) -> tuple[float, float]:
    lg = math.log(ga_w)
    mean = -28.2849 + 1.69267 * ga_w ** 2 - 0.397485 * ga_w ** 2 * lg
    sd = 1.98735 + 0.0136772 * ga_w ** 3 - 0.00726264 * ga_w ** 3 * lg + 0.000976253 * ga_w ** 3 * lg ** 2
    return mean, sd


def _igs_ac(ga_w: float) -> tuple[float, float]:
    lg = math.log(ga_w)
    mean = -81.3243 + 11.6772 * ga_w - 0.000561865 * ga_w ** 3
    sd = -4.36302 + 0.121445 * ga_w ** 2 - 0.0130256 * ga_w ** 3 + 0.00282143 * ga_w ** 3 * lg
    return mean, sd


def hc_ac_range(ga_days: float | None) -> tuple[float, float]:
    """Plausible HC/AC ratio at a GA (days, clamped to 14-40 weeks), or over all of 14-40 weeks if None."""
    weeks = [min(40.0, max(14.0, ga_days / 7.0))] if ga_days is not None else list(range(14, 41))
    los, his = [], []
    for w in weeks:
        (hc, hc_sd), (ac, ac_sd) = _igs_hc(w), _igs_ac(w)
        ratio, cv = hc / ac, math.hypot(hc_sd / hc, ac_sd / ac)
        los.append(ratio * (1 - 2 * cv))
        his.append(ratio * (1 + 2 * cv))
    return round(min(los), 3), round(max(his), 3)


def _check(name: str, value: float, lo: float, hi: float, source: str) -> dict[str, Any]:
    return {"check": name, "value": round(value, 3), "range": [lo, hi], "ok": lo <= value <= hi,
            "source": source}


def plausibility_checks(values_mm: Mapping[str, float], ga_days: float | None = None) -> list[dict[str, Any]]:
    """FL/AC, HC/AC (by GA), cephalic index BPD/OFD and FL/BPD from the lengths present (mm; BPD outer-to-outer,
    as the device measures it: converted to each reference's convention, edge.clinical.conventions)."""
    v: dict[str, float] = {}
    for name, raw in values_mm.items():
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw) or raw <= 0:
            raise InputError(f"{name}={raw!r}: expected a length in mm, a finite number > 0")
        v[name] = float(raw)
    if ga_days is not None and (not math.isfinite(ga_days) or ga_days <= 0):
        raise InputError(f"ga_days={ga_days!r}: expected a gestational age in days > 0, or None")

    def applies(from_days: float) -> bool:
        return ga_days is None or ga_days >= from_days

    out = []
    ratio_inputs = dict(v)
    if "bpd" in v:
        ratio_inputs["bpd_fl"] = bpd_for("fl_bpd_ratio", v["bpd"])[0]
    for name, num, den, (lo, hi, from_days, source) in (
            ("fl_ac_ratio", "fl", "ac", FL_AC), ("bpd_ofd_ratio", "bpd", "ofd", CEPHALIC_INDEX),
            ("fl_bpd_ratio", "fl", "bpd_fl", FL_BPD)):
        if num in ratio_inputs and den in ratio_inputs and applies(from_days):
            out.append(_check(name, ratio_inputs[num] / ratio_inputs[den], lo, hi, source))
    if "hc" in v and "ac" in v:
        lo, hi = hc_ac_range(ga_days)
        out.append(_check("hc_ac_ratio", v["hc"] / v["ac"], lo, hi, HC_AC_SOURCE))
    return out
