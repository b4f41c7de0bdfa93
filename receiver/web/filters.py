"""The query-string filters pages and API share, validated by FastAPI before any SQL is built: ids match
edge.sync.checks.ID_RE, dates are dates, pages are bounded. A bad value is a 400 (page) or 422 (API) that
names it; nothing from a query string reaches SQL except as a bound parameter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated

from fastapi import Depends, HTTPException, Query

from receiver.web.deps import Viewer, viewer

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MAX_PAGE = 100_000
DEFAULT_WEEKS = 8

IdParam = Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)]
TextParam = Annotated[str | None, Query(max_length=200)]
PageParam = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"1..{MAX_PAGE}")]


@dataclass(frozen=True)
class Filters:
    clinic: str | None = None
    district: str | None = None
    device: str | None = None
    day_from: date | None = None
    day_to: date | None = None
    page: int = 1

    @property
    def since(self) -> datetime | None:
        return None if self.day_from is None else datetime.combine(self.day_from, time(), timezone.utc)

    @property
    def until(self) -> datetime | None:
        """Exclusive end: midnight after `day_to`."""
        return None if self.day_to is None else datetime.combine(self.day_to + timedelta(days=1), time(),
                                                                 timezone.utc)

    def query(self, **override: object) -> dict[str, str]:
        """These filters as query-string arguments (for links such as the next page)."""
        d = {"clinic": self.clinic, "district": self.district, "device": self.device,
             "from": self.day_from, "to": self.day_to, "page": self.page if self.page > 1 else None}
        d.update(override)
        return {k: str(v) for k, v in d.items() if v not in (None, "")}


def _check(v: Viewer, clinic: str | None, day_from: date | None, day_to: date | None) -> None:
    if clinic and not v.may_see(clinic):
        raise HTTPException(403, f"you may see only your own clinics ({', '.join(v.clinics or ())})")
    if day_from and day_to and day_from > day_to:
        raise HTTPException(400, f"from={day_from} is after to={day_to}: give from <= to")


def filters(v: Viewer = Depends(viewer), clinic: IdParam = None, district: TextParam = None, device: IdParam = None,
            day_from: Annotated[date | None, Query(alias="from")] = None,
            day_to: Annotated[date | None, Query(alias="to")] = None, page: PageParam = 1) -> Filters:
    """Any exam list: optional clinic, district, device, UTC dates from..to (inclusive), page."""
    _check(v, clinic, day_from, day_to)
    return Filters(clinic or None, district or None, device or None, day_from, day_to, page)


def overview_filters(v: Viewer = Depends(viewer), clinic: IdParam = None, district: TextParam = None,
                     day_from: Annotated[date | None, Query(alias="from")] = None,
                     day_to: Annotated[date | None, Query(alias="to")] = None, page: PageParam = 1) -> Filters:
    """The overview: by default the last DEFAULT_WEEKS whole weeks up to today."""
    today = datetime.now(timezone.utc).date()
    day_to = day_to or today
    day_from = day_from or (day_to - timedelta(days=day_to.weekday() + 7 * (DEFAULT_WEEKS - 1)))
    _check(v, clinic, day_from, day_to)
    if (day_to - day_from).days > 366 * 2:
        raise HTTPException(400, f"from {day_from} to {day_to} is more than two years: pick a shorter range")
    return Filters(clinic or None, district or None, None, day_from, day_to, page)
