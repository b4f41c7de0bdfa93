"""The receiver's read side used by `fetal-receiver lag` and the receiver's local API: results by clinic /
device / date, and sync lag per device."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receiver.models import Device, Result, Telemetry


def _day(text: str, what: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(text), time(), timezone.utc)
    except ValueError:
        raise ValueError(f"{what}={text!r}: expected a date YYYY-MM-DD") from None


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def results(s: Session, clinic: str | None = None, device: str | None = None, day_from: str | None = None,
            day_to: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """Results whose exam started on [day_from, day_to] (UTC dates, inclusive), newest first."""
    q = select(Result.payload, Result.received_at)
    if clinic:
        q = q.where(Result.clinic_id == clinic)
    if device:
        q = q.where(Result.device_id == device)
    if day_from:
        q = q.where(Result.started_at >= _day(day_from, "from"))
    if day_to:
        q = q.where(Result.started_at < _day(day_to, "to") + timedelta(days=1))
    q = q.order_by(Result.started_at.desc(), Result.result_id).limit(max(1, min(int(limit), 10000)))
    return [json.loads(p) | {"received_at": iso(at)} for p, at in s.execute(q)]


def lag(s: Session) -> list[dict[str, Any]]:
    """Per registered device: results received, last received, mean/max lag from device save to receipt (s),
    and the outbox length and time of its last telemetry."""
    per_device = (select(Result.clinic_id, Result.device_id, func.count().label("n"),
                         func.max(Result.received_at).label("last"), func.avg(Result.lag_s).label("mean"),
                         func.max(Result.lag_s).label("max"))
                  .group_by(Result.clinic_id, Result.device_id).subquery())
    q = (select(Device.clinic_id, Device.device_id, per_device.c.n, per_device.c.last, per_device.c.mean,
                per_device.c.max, Telemetry.received_at, Telemetry.outbox_len, Telemetry.last_sync_at)
         .outerjoin(per_device, (per_device.c.clinic_id == Device.clinic_id)
                    & (per_device.c.device_id == Device.device_id))
         .outerjoin(Telemetry, (Telemetry.clinic_id == Device.clinic_id) & (Telemetry.device_id == Device.device_id))
         .order_by(Device.clinic_id, Device.device_id))
    out = []
    for clinic, device, n, last, mean_lag, max_lag, tel_at, outbox, synced in s.execute(q):
        out.append({"clinic_id": clinic, "device_id": device, "results": int(n or 0),
                    "last_received_at": iso(last),
                    "mean_lag_s": None if mean_lag is None else round(float(mean_lag), 3),
                    "max_lag_s": None if max_lag is None else round(float(max_lag), 3),
                    "outbox_len": outbox, "last_telemetry_at": iso(tel_at), "device_last_sync_at": iso(synced)})
    return out
