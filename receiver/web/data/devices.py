"""Devices: last seen, sync lag, outbox backlog, free disk, model versions and checksums and last fps
(from telemetry), and the weekly plane-classifier drift (receiver.web.drift)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.orm import Session

from receiver.models import Device, Result, Telemetry, TelemetryHistory
from receiver.web.data.scope import Page, paged, scoped
from receiver.web.drift import Week, flag_weeks
from receiver.web.filters import Filters

DRIFT_WEEKS = 12
LAG_RECENT_DAYS = 28


@dataclass
class DeviceRow:
    clinic_id: str
    device_id: str
    registered_at: datetime
    last_seen_at: datetime | None
    telemetry: Telemetry | None
    mean_lag_s: float | None = None
    max_lag_s: float | None = None
    drift: list[Week] = field(default_factory=list)

    @property
    def models(self) -> list[dict[str, Any]]:
        return json.loads(self.telemetry.models) if self.telemetry else []

    @property
    def warnings(self) -> list[str]:
        return [f"week of {w.week}: {w.warning}" for w in self.drift if w.warning]

    def stale(self, days: int) -> bool:
        return self.last_seen_at is None or self.last_seen_at < datetime.now(timezone.utc) - timedelta(days=days)

    def to_json(self) -> dict[str, Any]:
        t = self.telemetry
        return {"clinic_id": self.clinic_id, "device_id": self.device_id,
                "registered_at": self.registered_at.isoformat(),
                "last_seen_at": self.last_seen_at and self.last_seen_at.isoformat(),
                "mean_lag_s": self.mean_lag_s, "max_lag_s": self.max_lag_s,
                "telemetry": None if t is None else {
                    "at": t.at.isoformat(), "received_at": t.received_at.isoformat(),
                    "free_disk_mb": t.free_disk_mb, "outbox_len": t.outbox_len, "last_exam_fps": t.last_exam_fps,
                    "last_sync_at": t.last_sync_at and t.last_sync_at.isoformat(), "store_warning": t.store_warning,
                    "models": self.models},
                "drift": [{"week": w.week.isoformat(), "exams": w.exams, "frames": w.frames,
                           "unknown_share": w.unknown_share, "mean_confidence": w.mean_confidence,
                           "warning": w.warning} for w in self.drift]}


def _keys(rows: list[DeviceRow]) -> list[tuple[str, str]]:
    return [(r.clinic_id, r.device_id) for r in rows]


def _by_device(model: Any, keys: list[tuple[str, str]]) -> Any:
    return tuple_(model.clinic_id, model.device_id).in_(keys)


def _add_lag_and_drift(db: Session, rows: list[DeviceRow]) -> None:
    keys = _keys(rows)
    if not keys:
        return
    index = {(r.clinic_id, r.device_id): r for r in rows}
    now = datetime.now(timezone.utc)
    lag = (select(Result.clinic_id, Result.device_id, func.avg(Result.lag_s), func.max(Result.lag_s))
           .where(_by_device(Result, keys), Result.started_at >= now - timedelta(days=LAG_RECENT_DAYS))
           .group_by(Result.clinic_id, Result.device_id))
    for c, d, mean, top in db.execute(lag):
        index[(c, d)].mean_lag_s, index[(c, d)].max_lag_s = mean, top
    weekly = (select(Result.clinic_id, Result.device_id, Result.week, func.count(), func.sum(Result.plane_frames),
                     func.sum(Result.plane_unknown_frames),
                     func.sum(Result.plane_mean_confidence * Result.plane_frames),
                     func.sum(Result.plane_frames).filter(Result.plane_mean_confidence.is_not(None)))
              .where(_by_device(Result, keys), Result.started_at >= now - timedelta(weeks=DRIFT_WEEKS))
              .group_by(Result.clinic_id, Result.device_id, Result.week).order_by(Result.week))
    for c, d, week, n, frames, unknown, conf_sum, conf_frames in db.execute(weekly):
        frames = int(frames or 0)
        index[(c, d)].drift.append(Week(week, int(n), frames, (unknown or 0) / frames if frames else None,
                                        conf_sum / conf_frames if conf_frames else None))
    for r in rows:
        r.drift = flag_weeks(r.drift)


def device_list(db: Session, clinics: Sequence[str] | None, f: Filters, per_page: int,
                stale_days: int | None = None) -> Page[DeviceRow]:
    stmt = scoped(select(Device, Telemetry).outerjoin(Telemetry, and_(
        Telemetry.clinic_id == Device.clinic_id, Telemetry.device_id == Device.device_id)), Device, clinics,
        Filters(f.clinic, f.district, f.device))
    if stale_days is not None:
        cutoff = datetime.now(timezone.utc) - timedelta(days=stale_days)
        stmt = stmt.where((Device.last_seen_at.is_(None)) | (Device.last_seen_at < cutoff))
    page = paged(db, stmt.order_by(Device.clinic_id, Device.device_id), f.page, per_page)
    rows = [DeviceRow(d.clinic_id, d.device_id, d.registered_at, d.last_seen_at, t) for d, t in page.items]
    _add_lag_and_drift(db, rows)
    return Page(rows, page.page, page.per_page, page.has_next)


def get_device(db: Session, clinic_id: str, device_id: str, clinics: Sequence[str] | None) -> DeviceRow | None:
    page = device_list(db, clinics, Filters(clinic=clinic_id, device=device_id), 1)
    return page.items[0] if page.items else None


def telemetry_history(db: Session, clinic_id: str, device_id: str, limit: int = 20) -> list[TelemetryHistory]:
    stmt = (select(TelemetryHistory).where(TelemetryHistory.clinic_id == clinic_id,
                                           TelemetryHistory.device_id == device_id)
            .order_by(TelemetryHistory.at.desc()).limit(limit))
    return list(db.scalars(stmt))
