"""Size-for-gestational-age standards: cited tables (standards.json) and one generic conversion.

Every standard is data: its citation, the published equations' coefficients, the GA range it is valid for
and the caliper convention it was built on (edge/clinical/standards.json). This module turns any of them
into value <-> z-score <-> centile at a GA; nothing here is specific to one measurement.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any, Mapping

from edge.errors import InputError

TABLE = Path(__file__).with_name("standards.json")
FAMILIES = ("normal", "box_cox_log")
_NORMAL = NormalDist()


@dataclass(frozen=True)
class Curve:
    """transform(scale * sum(coef * GA^power * ln(GA)^log_power)), GA in exact weeks."""

    terms: tuple[tuple[float, float, int], ...]
    transform: str = "identity"
    scale: float = 1.0

    def __call__(self, weeks: float) -> float:
        lg = math.log(weeks)
        total = self.scale * sum(c * weeks ** p * lg ** q for c, p, q in self.terms)
        return math.exp(total) if self.transform == "exp" else total


@dataclass(frozen=True)
class Standard:
    name: str
    quantity: str                 # "hc", "bpd", "ofd", "ac", "fl", "efw"
    unit: str
    family: str
    label: str                    # short citation shown next to a centile
    source: str                   # full citation and table
    ga_days: tuple[int, int]      # valid GA range, inclusive
    caliper: str
    curves: Mapping[str, Curve]

    def covers(self, ga_days: float) -> bool:
        return self.ga_days[0] <= ga_days <= self.ga_days[1]

    def range_text(self) -> str:
        lo, hi = self.ga_days
        return f"{lo // 7}+{lo % 7}-{hi // 7}+{hi % 7} weeks"


def _curve(d: Mapping[str, Any]) -> Curve:
    return Curve(tuple((float(c), float(p), int(q)) for c, p, q in d["terms"]), d.get("transform", "identity"),
                 float(d.get("scale", 1.0)))


def load_standards(path: Path = TABLE) -> dict[str, Standard]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for name, d in raw["standards"].items():
        if d["family"] not in FAMILIES:
            raise ValueError(f"{path}: standard {name} has family {d['family']!r}; valid: {FAMILIES}")
        out[name] = Standard(name, d["quantity"], d["unit"], d["family"], d["label"], d["source"],
                             (int(d["ga_days"][0]), int(d["ga_days"][1])), d["caliper"],
                             {k: _curve(v) for k, v in d["curves"].items()})
    return out


STANDARDS: dict[str, Standard] = load_standards()
BY_QUANTITY: dict[str, Standard] = {s.quantity: s for s in STANDARDS.values()}


def get_standard(name: str) -> Standard:
    if name not in STANDARDS:
        raise InputError(f"unknown growth standard {name!r}; valid: {sorted(STANDARDS)}")
    return STANDARDS[name]


def _weeks(std: Standard, ga_days: float) -> float:
    if not std.covers(ga_days):
        raise InputError(f"GA {ga_days:g} days is outside {std.name}'s valid range {std.range_text()} "
                         f"({std.ga_days[0]}-{std.ga_days[1]} days)")
    return ga_days / 7.0


def z_score(std: Standard, value: float, ga_days: float) -> float:
    """z of a measurement (std.unit) at a GA (days) under a standard."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise InputError(f"{std.quantity}={value!r}: expected a finite number > 0 in {std.unit}")
    w, c = _weeks(std, ga_days), std.curves
    if std.family == "normal":
        return (value - c["mu"](w)) / c["sigma"](w)
    lam, mu, s = c["l"](w), c["m"](w), c["s"](w)
    y = math.log(value)
    return math.log(y / mu) / s if abs(lam) < 1e-9 else ((y / mu) ** lam - 1.0) / (lam * s)


def value_at(std: Standard, z: float, ga_days: float) -> float:
    """The measurement (std.unit) at z-score `z` and a GA (days) under a standard."""
    w, c = _weeks(std, ga_days), std.curves
    if std.family == "normal":
        return c["mu"](w) + z * c["sigma"](w)
    lam, mu, s = c["l"](w), c["m"](w), c["s"](w)
    y = mu * math.exp(s * z) if abs(lam) < 1e-9 else mu * (z * s * lam + 1.0) ** (1.0 / lam)
    return math.exp(y)


def centile_of(z: float) -> float:
    """Centile (0-100) of a z-score."""
    return 100.0 * _NORMAL.cdf(z)


def z_of(centile: float) -> float:
    if not 0.0 < centile < 100.0:
        raise InputError(f"centile {centile!r} must be strictly between 0 and 100")
    return _NORMAL.inv_cdf(centile / 100.0)


def value_at_centile(std: Standard, centile: float, ga_days: float) -> float:
    return value_at(std, z_of(centile), ga_days)
