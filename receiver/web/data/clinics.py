"""Clinics: name, district, their devices, and exam counts (all time, last 4 weeks, last exam)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from receiver.models import Clinic, Device, Result
from receiver.web.data.scope import Page, paged, scoped
from receiver.web.filters import Filters

RECENT_DAYS = 28


@dataclass
class ClinicSummary:
    clinic_id: str
    name: str | None
    district: str | None
    devices: list[str] = field(default_factory=list)
    exams: int = 0
    recent: int = 0
    last_exam: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"clinic_id": self.clinic_id, "name": self.name, "district": self.district, "devices": self.devices,
                "exams": self.exams, f"exams_last_{RECENT_DAYS}_days": self.recent,
                "last_exam_at": self.last_exam and self.last_exam.isoformat()}


def clinic_list(db: Session, clinics: Sequence[str] | None, f: Filters, per_page: int) -> Page[ClinicSummary]:
    stmt = scoped(select(Clinic), Clinic, clinics, Filters(f.clinic, f.district)).order_by(Clinic.clinic_id)
    page = paged(db, stmt, f.page, per_page)
    rows = {c.clinic_id: ClinicSummary(c.clinic_id, c.name, c.district) for (c,) in page.items}
    ids = list(rows)
    if ids:
        for c, d in db.execute(select(Device.clinic_id, Device.device_id).where(Device.clinic_id.in_(ids))
                               .order_by(Device.device_id)):
            rows[c].devices.append(d)
        since = datetime.now(timezone.utc) - timedelta(days=RECENT_DAYS)
        counts = (select(Result.clinic_id, func.count(), func.sum(case((Result.started_at >= since, 1), else_=0)),
                         func.max(Result.started_at))
                  .where(Result.clinic_id.in_(ids), Result.is_latest).group_by(Result.clinic_id))
        for c, n, recent, last in db.execute(counts):
            rows[c].exams, rows[c].recent, rows[c].last_exam = int(n), int(recent or 0), last
    return Page(list(rows.values()), page.page, page.per_page, page.has_next)
