"""The clinical layer's one entry point: lengths (mm) + what is known before the scan -> GA, EFW, centiles,
alerts. Used by the exam builder, `fetal-edge measure` and `fetal-edge review` alike.

BPD arrives in the device's convention (outer-to-outer) and is converted for formulas built on another
(edge.clinical.conventions). Lengths the user gave by hand are source "manual"; a GA or EFW computed from
any of them is marked manual in its method and source too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Mapping

from edge.clinical.alerts import DEFAULT_RULES, AlertRule, evaluate
from edge.clinical.dating import Pregnancy, format_ga
from edge.clinical.efw import estimate_efw
from edge.clinical.ga import best_ga, estimate_ga
from edge.clinical.hadlock import HC_BANDS_2SD_WEEKS
from edge.clinical.ranges import BIOMETRY
from edge.clinical.size import size_for_ga
from edge.results import FLAG_NO_MEASUREMENT, FLAG_OK, Measurement

BEST_GA = "best_ga"
LENGTHS = BIOMETRY
NO_MODEL = {
    "ac": "no abdomen measurement model on this device (no abdomen masks to train one); give AC with --given ac=MM",
    "fl": "no femur measurement model on this device (no femur masks to train one); give FL with --given fl=MM",
}


@dataclass
class Assessment:
    measurements: dict[str, Measurement]          # the lengths with centiles, plus ga and efw
    dating: dict[str, Any]
    alerts: list[dict[str, Any]] = field(default_factory=list)


def method_inputs(method: str) -> tuple[str, ...]:
    """'hadlock1984_bpd_hc_ac_fl+bpd_oo2oi_wong2018' -> ('bpd', 'hc', 'ac', 'fl')."""
    return tuple(t for t in method.split("+", 1)[0].split("_") if t in LENGTHS)


def _no_number(name: str, unit: str, reason: str, method: str | None) -> Measurement:
    return Measurement(name, None, unit, 0.0, FLAG_NO_MEASUREMENT, None, method, reason, 0)


def _mark_manual(m: Measurement, lengths: Mapping[str, Measurement]) -> Measurement:
    manual = [n for n in method_inputs(m.method or "") if lengths.get(n) and lengths[n].source == "manual"]
    if not manual or m.value is None:
        return m
    return replace(m, method=f"{m.method}+manual_{'_'.join(manual)}", source="manual")


def _numbers(names: tuple[str, ...], lengths: Mapping[str, Measurement]) -> dict[str, Measurement]:
    return {n: lengths[n] for n in names if n in lengths and lengths[n].value is not None}


def biometric_ga(method: str, lengths: Mapping[str, Measurement]) -> Measurement:
    """GA from this exam's biometry by `method` (a GA method name or "best_ga")."""
    if method == BEST_GA:
        given = {n: m for n, m in lengths.items() if n != "ofd"}
        if not given:
            return _no_number("ga", "d", "no biometry to date from", BEST_GA)
        return _mark_manual(best_ga(device_bpd=True, **given), lengths)
    missing = [n for n in method_inputs(method) if n not in _numbers(method_inputs(method), lengths)]
    if missing:
        why = "; ".join(f"{n.upper()}: {lengths[n].reason if n in lengths else 'not measured'}" for n in missing)
        return _no_number("ga", "d", f"{method} needs {', '.join(n.upper() for n in missing)} ({why})", method)
    return _mark_manual(estimate_ga(method, device_bpd=True, **_numbers(method_inputs(method), lengths)), lengths)


def fetal_weight(method: str, lengths: Mapping[str, Measurement]) -> Measurement:
    need = method_inputs(method)
    missing = [n for n in need if n not in _numbers(need, lengths)]
    if missing:
        names = " and ".join(n.upper() for n in missing)
        return _no_number("efw", "g", f"EFW out of reach: {method} needs {names}, not measured on this device; "
                          f"give {names} from the scanner's calipers with --given to get an EFW", method)
    return _mark_manual(estimate_efw(method, device_bpd=True, **_numbers(need, lengths)), lengths)


def precision_days(ga: Measurement, lengths: Mapping[str, Measurement]) -> float | None:
    """The +/- (2SD, days) the source publishes for this GA estimate, where we have it; else None."""
    if ga.value is None or (ga.method or "").split("+")[0] != "hadlock1984_hc":
        return None
    hc = lengths["hc"].value
    band = min(HC_BANDS_2SD_WEEKS, key=lambda b: 0 if b[0] <= hc <= b[1] else min(abs(hc - b[0]), abs(hc - b[1])))
    return round(band[2] * 7, 1)


def _established(ga_days: int, preg: Pregnancy, biometric: Measurement) -> Measurement:
    alone = (f"{format_ga(biometric.value)} by {biometric.method}" if biometric.value is not None
             else f"none ({biometric.reason})")
    return Measurement("ga", float(ga_days), "d", 1.0, FLAG_OK, None, preg.basis,
                       f"established from {preg.basis} {preg.given()}; this exam's biometry alone would give {alone}",
                       0, source="manual")


def assess(lengths: Mapping[str, Measurement], pregnancy: Pregnancy, exam_date: date, ga_method: str = BEST_GA,
           efw_method: str = "intergrowth21_hc_ac", rules: tuple[AlertRule, ...] = DEFAULT_RULES) -> Assessment:
    """GA (established or from biometry), EFW, centiles of every measurement, and the alerts they raise.
    InputError when what was given before the scan is impossible on the exam date."""
    bio = biometric_ga(ga_method, lengths)
    established = pregnancy.established_ga(exam_date)
    ga = bio if established is None else _established(established, pregnancy, bio)
    efw = fetal_weight(efw_method, lengths)
    ga_days = ga.value
    out = {n: size_for_ga(m, ga_days, established is not None) for n, m in {**lengths, "efw": efw}.items()}
    out["ga"] = ga
    dating = {
        "ga_days": ga_days, "ga_text": format_ga(ga_days) if ga_days is not None else None,
        "precision_days": None if established is not None else precision_days(bio, lengths),
        "edd": (exam_date + timedelta(days=280 - int(round(ga_days)))).isoformat() if ga_days is not None else None,
        "source": None if ga_days is None else ("established" if established is not None else "biometry"),
        "method": ga.method,
    }
    return Assessment(out, dating, evaluate(rules, out, bio, established))
