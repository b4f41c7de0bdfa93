"""`clinical:` section: what is known before the scan (kiosk workflow), alert rules, the clinic's name.

  clinical:
    lmp: 2026-05-02            # or edd: 2027-02-06, or dating_ga: 12w3d@2026-07-20 (one of them; singleton only)
    clinic_name: "Kisumu West Health Centre"   # printed on the report
    alerts:                    # override a default rule, or add one (edge.clinical.alerts)
      efw_below_p10: {threshold: 5}
      ac_below_p10: {enabled: false}

Every value is checked when the config loads (an LMP in the future or more than 44 weeks ago, an EDD more than
4 weeks past, a GA that does not parse: ConfigError naming the value and the valid range), so a kiosk
finds a stale date before the scan, not after it. `--lmp/--edd/--dating-ga` on run and measure override
these per exam.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping

from edge.clinical.alerts import DEFAULT_RULES, AlertRule, rules_from_config
from edge.clinical.dating import PLURALITY, Pregnancy, pregnancy_from
from edge.config import SECTIONS, check_keys, typed
from edge.errors import ConfigError, InputError

_KEYS = {"lmp", "edd", "dating_ga", "plurality", "clinic_name", "alerts"}


@dataclass(frozen=True)
class ClinicalSettings:
    pregnancy: Pregnancy = field(default_factory=Pregnancy)
    clinic_name: str | None = None
    alerts: tuple[AlertRule, ...] = DEFAULT_RULES


def _text(d: Mapping[str, Any], key: str) -> str | None:
    value = d.get(key)
    if value is None or isinstance(value, date):   # YAML reads 2026-05-02 as a date
        return value.isoformat() if value is not None else None
    return typed(d, "clinical", key, str)


@SECTIONS.register("clinical")
def parse(d: Mapping[str, Any], today: date | None = None) -> ClinicalSettings:
    d = check_keys(d, "clinical", _KEYS)
    typed(d, "clinical", "plurality", str, PLURALITY, choices=(PLURALITY,))
    try:
        pregnancy = pregnancy_from(_text(d, "lmp"), _text(d, "edd"), _text(d, "dating_ga"))
        pregnancy.established_ga(today or date.today())
    except InputError as exc:
        raise ConfigError(f"clinical: {exc}") from None
    name = typed(d, "clinical", "clinic_name", str)
    if name is not None and not 1 <= len(name) <= 80:
        raise ConfigError(f"clinical.clinic_name = {name!r}: 1-80 characters")
    return ClinicalSettings(pregnancy=pregnancy, clinic_name=name, alerts=rules_from_config(d.get("alerts")))
