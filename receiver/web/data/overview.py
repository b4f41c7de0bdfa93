"""The overview: exams per week per clinic, the share with a measurement and the share flagged, open alerts,
and devices not seen for more than N days; narrowed by district, clinic and date range."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Sequence

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from receiver.models import Alert, Clinic, Device, Result
from receiver.web.data.scope import Page, scoped
from receiver.web.filters import Filters


@dataclass
class ClinicRow:
    clinic_id: str
    name: str | None
    district: str | None
    per_week: dict[date, int] = field(default_factory=dict)
    exams: int = 0
    measured: int = 0
    flagged: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"clinic_id": self.clinic_id, "name": self.name, "district": self.district, "exams": self.exams,
                "with_measurement": self.measured, "flagged": self.flagged,
                "per_week": {d.isoformat(): n for d, n in sorted(self.per_week.items())}}


@dataclass
class Overview:
    weeks: list[date]
    clinics: Page[ClinicRow]
    exams: int
    measured: int
    flagged: int
    open_alerts: int
    stale_devices: list[dict[str, Any]]
    stale_count: int
    stale_days: int
    districts: list[str]
    clinic_ids: list[str]

    @property
    def measured_share(self) -> float | None:
        return self.measured / self.exams if self.exams else None

    @property
    def flagged_share(self) -> float | None:
        return self.flagged / self.exams if self.exams else None

    def to_json(self) -> dict[str, Any]:
        return {"exams": self.exams, "with_measurement_share": self.measured_share,
                "flagged_share": self.flagged_share, "open_alerts": self.open_alerts,
                "weeks": [w.isoformat() for w in self.weeks],
                "stale_days": self.stale_days, "stale_device_count": self.stale_count,
                "stale_devices": self.stale_devices,
                "clinics": self.clinics.to_json([c.to_json() for c in self.clinics.items])}


def _weeks(f: Filters) -> list[date]:
    first = f.day_from - timedelta(days=f.day_from.weekday())
    return [first + timedelta(weeks=i) for i in range((f.day_to - first).days // 7 + 1)]


def _clinic_rows(db: Session, clinics: Sequence[str] | None, f: Filters) -> dict[str, ClinicRow]:
    listed = scoped(select(Clinic.clinic_id, Clinic.name, Clinic.district), Clinic, clinics, f)
    rows = {c: ClinicRow(c, n, d) for c, n, d in db.execute(listed.order_by(Clinic.clinic_id))}
    counts = scoped(select(Result.clinic_id, Result.week, func.count(),
                           func.sum(case((Result.has_measurement, 1), else_=0)),
                           func.sum(case((Result.flagged, 1), else_=0)))
                    .where(Result.is_latest).group_by(Result.clinic_id, Result.week), Result, clinics, f)
    for clinic, week, n, measured, flagged in db.execute(counts):
        row = rows.setdefault(clinic, ClinicRow(clinic, None, None))
        row.per_week[week] = row.per_week.get(week, 0) + int(n)
        row.exams += int(n)
        row.measured += int(measured or 0)
        row.flagged += int(flagged or 0)
    return rows


def _stale(db: Session, clinics: Sequence[str] | None, f: Filters, days: int) -> tuple[int, list[dict[str, Any]]]:
    cutoff = datetime.now(timezone.utc) - timedelta(days=days)
    where = or_(Device.last_seen_at.is_(None), Device.last_seen_at < cutoff)
    no_dates = Filters(f.clinic, f.district)
    count = db.scalar(scoped(select(func.count()).select_from(Device).where(where), Device, clinics, no_dates))
    first = scoped(select(Device.clinic_id, Device.device_id, Device.last_seen_at).where(where), Device, clinics,
                   no_dates).order_by(Device.last_seen_at.is_not(None), Device.last_seen_at).limit(10)
    return int(count or 0), [{"clinic_id": c, "device_id": d, "last_seen_at": s} for c, d, s in db.execute(first)]


def overview(db: Session, clinics: Sequence[str] | None, f: Filters, stale_days: int, per_page: int) -> Overview:
    rows = _clinic_rows(db, clinics, f)
    ordered = sorted(rows.values(), key=lambda r: (-r.exams, r.clinic_id))
    start = (f.page - 1) * per_page
    page = Page(ordered[start:start + per_page], f.page, per_page, len(ordered) > start + per_page)
    open_alerts = db.scalar(scoped(select(func.count()).select_from(Alert).where(Alert.ack_at.is_(None)), Alert,
                                   clinics, Filters(f.clinic, f.district)))
    stale_count, stale = _stale(db, clinics, f, stale_days)
    choices = list(db.execute(scoped(select(Clinic.clinic_id, Clinic.district), Clinic, clinics)))
    return Overview(weeks=_weeks(f), clinics=page, exams=sum(r.exams for r in ordered),
                    measured=sum(r.measured for r in ordered), flagged=sum(r.flagged for r in ordered),
                    open_alerts=int(open_alerts or 0), stale_devices=stale, stale_count=stale_count,
                    stale_days=stale_days, districts=sorted({d for _, d in choices if d}),
                    clinic_ids=sorted(c for c, _ in choices))
