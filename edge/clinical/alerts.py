"""Alerts: rules a programme sets in config (`clinical.alerts`), with clinically sensible defaults.

A rule compares a measurement's centile (at the established GA) with a threshold, or the GA from this
exam's biometry with the established GA. Each alert says the rule, the value, the threshold, the standard,
the centile, a severity and a message in the words a midwife uses. A rule that cannot be judged (no
established GA, no centile) raises no alert; the measurement says why it has no centile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

from edge.clinical.dating import format_ga
from edge.errors import ConfigError
from edge.results import Measurement

SEVERITIES = ("refer", "review", "info")
OPS = ("below", "above", "differs_by_more_than")
MEASUREMENTS = ("hc", "bpd", "ofd", "ac", "fl", "efw", "ga")
MAX_ALERTS = 16


@dataclass(frozen=True)
class AlertRule:
    rule: str
    measurement: str       # hc, bpd, ofd, ac, fl, efw (centile rules) or ga (GA discrepancy, days)
    op: str                # below / above a centile; differs_by_more_than (days, GA only)
    threshold: float
    severity: str
    message: str
    enabled: bool = True

    def threshold_text(self) -> str:
        if self.op == "differs_by_more_than":
            return f"> {self.threshold:g} days"
        return f"{'<' if self.op == 'below' else '>'} {ordinal(self.threshold)} centile"


def ordinal(x: float) -> str:
    n = f"{x:g}"
    if not n.isdigit():
        return n
    suffix = "th" if 10 <= int(n) % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(int(n) % 10, "th")
    return n + suffix


DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule("hc_below_p3", "hc", "below", 3, "refer",
              "The baby's head is small for the stage of pregnancy (below the 3rd centile). Refer today for a "
              "specialist scan."),
    AlertRule("hc_above_p97", "hc", "above", 97, "refer",
              "The baby's head is large for the stage of pregnancy (above the 97th centile). Refer for a "
              "specialist scan."),
    AlertRule("efw_below_p10", "efw", "below", 10, "refer",
              "The baby is small for dates (estimated weight below the 10th centile). Refer for a growth scan "
              "and closer monitoring."),
    AlertRule("efw_above_p90", "efw", "above", 90, "review",
              "The baby is large for dates (estimated weight above the 90th centile). Check the mother for "
              "diabetes and plan the birth with a doctor."),
    AlertRule("ac_below_p10", "ac", "below", 10, "review",
              "The baby's tummy is small for dates (below the 10th centile): the baby may not be growing well. "
              "Arrange a growth scan."),
    AlertRule("ga_discrepancy", "ga", "differs_by_more_than", 14, "review",
              "The scan measurements and the dates disagree by more than 2 weeks. Check the dates with the "
              "mother; if they are certain, refer for a growth assessment."),
)


def _check_rule(r: AlertRule) -> AlertRule:
    where = f"clinical.alerts.{r.rule}"
    if r.measurement not in MEASUREMENTS:
        raise ConfigError(f"{where}.measurement = {r.measurement!r}: valid values are {list(MEASUREMENTS)}")
    if r.op not in OPS:
        raise ConfigError(f"{where}.op = {r.op!r}: valid values are {list(OPS)}")
    if (r.op == "differs_by_more_than") != (r.measurement == "ga"):
        raise ConfigError(f"{where}: op {r.op!r} conflicts with measurement {r.measurement!r} (GA rules use "
                          f"differs_by_more_than in days; the others below/above a centile)")
    if r.severity not in SEVERITIES:
        raise ConfigError(f"{where}.severity = {r.severity!r}: valid values are {list(SEVERITIES)}")
    hi = 100.0 if r.op != "differs_by_more_than" else 120.0
    if not 0 < r.threshold < hi:
        raise ConfigError(f"{where}.threshold = {r.threshold!r}: must be within (0, {hi:g})")
    if not r.message or len(r.message) > 500:
        raise ConfigError(f"{where}.message: 1-500 characters of plain words for the midwife")
    return r


def rules_from_config(raw: Any) -> tuple[AlertRule, ...]:
    """Defaults, with `clinical.alerts` overriding fields of a rule by name or adding new rules."""
    if raw is None:
        return DEFAULT_RULES
    if not isinstance(raw, Mapping):
        raise ConfigError(f"clinical.alerts must map rule name -> settings, got {type(raw).__name__}")
    rules = {r.rule: r for r in DEFAULT_RULES}
    keys = {"measurement", "op", "threshold", "severity", "message", "enabled"}
    for name, over in raw.items():
        if not isinstance(over, Mapping) or set(over) - keys:
            raise ConfigError(f"clinical.alerts.{name}: expected a mapping with keys from {sorted(keys)}")
        base = rules.get(str(name))
        if base is None:
            missing = sorted({"measurement", "op", "threshold", "severity", "message"} - set(over))
            if missing:
                raise ConfigError(f"clinical.alerts.{name} is a new rule and needs {missing} (known rules: "
                                  f"{sorted(rules)})")
            base = AlertRule(str(name), "", "", 0.0, "", "")
        try:
            rule = replace(base, **{k: (float(v) if k == "threshold" else v) for k, v in over.items()})
        except (TypeError, ValueError):
            raise ConfigError(f"clinical.alerts.{name}.threshold = {over.get('threshold')!r}: expected a number") from None
        rules[str(name)] = _check_rule(rule)
    return tuple(rules.values())


def _alert(rule: AlertRule, m: Measurement, value: float, unit: str, message: str) -> dict[str, Any]:
    return {"rule": rule.rule, "measurement": rule.measurement, "value": value, "unit": unit,
            "threshold": rule.threshold_text(), "standard": m.standard, "centile": m.centile,
            "severity": rule.severity, "message": message}


def evaluate(rules: tuple[AlertRule, ...], measurements: Mapping[str, Measurement],
             biometric_ga: Measurement | None, established_ga_days: float | None) -> list[dict[str, Any]]:
    """Alerts raised by the rules on an exam's measurements (centiles filled in by edge.clinical.size)."""
    out: list[dict[str, Any]] = []
    for r in (r for r in rules if r.enabled):
        if r.op == "differs_by_more_than":
            if established_ga_days is None or biometric_ga is None or biometric_ga.value is None:
                continue
            diff = float(biometric_ga.value) - established_ga_days
            if abs(diff) > r.threshold:
                m = replace(biometric_ga, standard=biometric_ga.method, centile=None)
                out.append(_alert(r, m, round(diff, 1), "d", f"{r.message} (This scan's measurements suggest "
                                  f"{format_ga(biometric_ga.value)}; the dates say {format_ga(established_ga_days)}.)"))
            continue
        m = measurements.get(r.measurement)
        if m is None or m.centile is None:
            continue
        if (m.centile < r.threshold) if r.op == "below" else (m.centile > r.threshold):
            out.append(_alert(r, m, m.value, m.unit, r.message))
    return out[:MAX_ALERTS]
