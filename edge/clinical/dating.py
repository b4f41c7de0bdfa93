"""What is known before the scan (LMP, EDD or an earlier dating scan) and the exam's gestational age.

Singleton pregnancies only: the standards and formulas here were built on singletons.

Established GA (from what the user gives) always wins: the exam's biometry then never re-dates the
pregnancy, so a small head stays a small head. Without it the exam dates from biometry (best_ga) and
size for GA cannot be judged (it would be measured against itself).
Conventions: GA in completed days; LMP -> EDD = LMP + 280 days (Naegele); EDD -> GA = 280 - (EDD - date).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from edge.errors import InputError

PLURALITY = "singleton"
TERM_DAYS = 280
MAX_GA_DAYS = 44 * 7            # an LMP or dating scan further back than this is not a current pregnancy
EDD_PAST_DAYS = 28              # an EDD more than 4 weeks past is not a current pregnancy
BASES = ("lmp", "edd", "dating_scan")
_GA_RE = re.compile(r"^\s*(\d{1,2})\s*(?:w|\+)\s*(?:(\d)\s*d?)?\s*$", re.IGNORECASE)


def parse_date(text: Any, what: str) -> date:
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise InputError(f"{what} {text!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-05-02") from None


def parse_ga(text: Any, what: str = "GA") -> int:
    """'12w3d', '12w', '12+3' -> days."""
    m = _GA_RE.match(str(text))
    if not m:
        raise InputError(f"{what} {text!r} does not parse; write weeks and days like 12w3d (or 12+3)")
    weeks, days = int(m.group(1)), int(m.group(2) or 0)
    if days > 6 or not 4 <= weeks <= 44:
        raise InputError(f"{what} {text!r}: weeks must be 4-44 and days 0-6")
    return weeks * 7 + days


def parse_dating_scan(text: Any) -> tuple[int, date]:
    """'12w3d@2026-07-20' -> (87, date(2026, 7, 20))."""
    ga, sep, on = str(text).partition("@")
    if not sep:
        raise InputError(f"--dating-ga {text!r}: give the GA and the scan date as GA@DATE, e.g. 12w3d@2026-07-20")
    return parse_ga(ga, "--dating-ga GA"), parse_date(on, "--dating-ga date")


def format_ga(days: float) -> str:
    d = int(round(days))
    return f"{d // 7}w{d % 7}d"


@dataclass(frozen=True)
class Pregnancy:
    """What is known before the scan; at most one of lmp, edd, dating_scan."""

    lmp: date | None = None
    edd: date | None = None
    dating_scan: tuple[int, date] | None = None     # (GA days on that day, scan date)
    plurality: str = PLURALITY

    def __post_init__(self) -> None:
        given = [b for b in BASES if getattr(self, b) is not None]
        if len(given) > 1:
            raise InputError(f"{' and '.join(given)} conflict: give one of LMP, EDD or dating scan, not several")
        if self.plurality != PLURALITY:
            raise InputError(f"plurality {self.plurality!r}: only singleton pregnancies are supported")

    @property
    def basis(self) -> str | None:
        return next((b for b in BASES if getattr(self, b) is not None), None)

    def established_ga(self, on: date) -> int | None:
        """GA in days on `on` from what was given (None if nothing); InputError naming an impossible value."""
        if self.lmp is not None:
            ga = (on - self.lmp).days
            if ga < 0:
                raise InputError(f"LMP {self.lmp} is in the future (exam date {on}); valid: up to 44 weeks before "
                                 f"the exam, {on - timedelta(days=MAX_GA_DAYS)} to {on}")
        elif self.edd is not None:
            if (on - self.edd).days > EDD_PAST_DAYS:
                raise InputError(f"EDD {self.edd} is more than 4 weeks before the exam date {on}; valid: "
                                 f"{on - timedelta(days=EDD_PAST_DAYS)} to {on + timedelta(days=TERM_DAYS)}")
            ga = TERM_DAYS - (self.edd - on).days
            if ga < 0:
                raise InputError(f"EDD {self.edd} is more than 40 weeks after the exam date {on}; valid: "
                                 f"{on - timedelta(days=EDD_PAST_DAYS)} to {on + timedelta(days=TERM_DAYS)}")
        elif self.dating_scan is not None:
            scan_ga, scan_on = self.dating_scan
            if scan_on > on:
                raise InputError(f"dating scan date {scan_on} is after the exam date {on}")
            ga = scan_ga + (on - scan_on).days
        else:
            return None
        if ga > MAX_GA_DAYS:
            label = {"lmp": "LMP", "edd": "EDD", "dating_scan": "dating scan"}[self.basis]
            raise InputError(f"{label} {self.given()} puts this exam at {format_ga(ga)}, more than 44 weeks; valid: "
                             f"a pregnancy that began after {on - timedelta(days=MAX_GA_DAYS)} (exam date {on})")
        return ga

    def edd_on(self, on: date) -> date | None:
        ga = self.established_ga(on)
        return None if ga is None else on + timedelta(days=TERM_DAYS - ga)

    def given(self) -> str:
        if self.dating_scan is not None:
            return f"{format_ga(self.dating_scan[0])}@{self.dating_scan[1]}"
        return str(self.lmp or self.edd)

    def to_dict(self) -> dict[str, Any]:
        scan = self.dating_scan
        return {"plurality": self.plurality, "basis": self.basis,
                "lmp": self.lmp.isoformat() if self.lmp else None, "edd": self.edd.isoformat() if self.edd else None,
                "dating_scan": {"ga_days": scan[0], "on": scan[1].isoformat()} if scan else None}


def pregnancy_from(lmp: Any = None, edd: Any = None, dating_ga: Any = None) -> Pregnancy:
    """A Pregnancy from user text (CLI flags or config values); None/empty means not given."""
    return Pregnancy(lmp=parse_date(lmp, "LMP") if lmp else None, edd=parse_date(edd, "EDD") if edd else None,
                     dating_scan=parse_dating_scan(dating_ga) if dating_ga else None)


def pregnancy_from_dict(d: dict[str, Any] | None) -> Pregnancy:
    """The inverse of Pregnancy.to_dict (a stored exam's pregnancy)."""
    if not d:
        return Pregnancy()
    scan = d.get("dating_scan")
    return Pregnancy(lmp=parse_date(d["lmp"], "LMP") if d.get("lmp") else None,
                     edd=parse_date(d["edd"], "EDD") if d.get("edd") else None,
                     dating_scan=(int(scan["ga_days"]), parse_date(scan["on"], "dating scan date")) if scan else None)
