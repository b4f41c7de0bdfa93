"""The receiver's read side: results by clinic / device / date, and sync lag per device."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from receiver.db import Database


def _day(text: str, what: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"{what}={text!r}: expected a date YYYY-MM-DD") from None


def results(db: Database, clinic: str | None = None, device: str | None = None, day_from: str | None = None,
            day_to: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """Results whose exam started on [day_from, day_to] (UTC dates, inclusive), newest first."""
    where, params = [], []
    if clinic:
        where.append("clinic_id = ?")
        params.append(clinic)
    if device:
        where.append("device_id = ?")
        params.append(device)
    if day_from:
        where.append("started_at >= ?")
        params.append(_day(day_from, "from"))
    if day_to:
        where.append("started_at < ?")
        params.append((date.fromisoformat(_day(day_to, "to")) + timedelta(days=1)).isoformat())
    sql = "SELECT payload, received_at FROM results"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY started_at DESC, result_id LIMIT ?"
    rows = db.query(sql, params + [max(1, min(int(limit), 10000))])
    return [json.loads(p) | {"received_at": at} for p, at in rows]


def lag(db: Database) -> list[dict[str, Any]]:
    """Per registered device: results received, last received, mean/max lag from device save to receipt (s),
    and the outbox length and time of its last telemetry."""
    rows = db.query(
        "SELECT d.clinic_id, d.device_id, COUNT(r.result_id), MAX(r.received_at), AVG(r.lag_s), MAX(r.lag_s), "
        "MAX(t.received_at), MAX(t.payload) FROM devices d "
        "LEFT JOIN results r ON r.clinic_id = d.clinic_id AND r.device_id = d.device_id "
        "LEFT JOIN telemetry t ON t.clinic_id = d.clinic_id AND t.device_id = d.device_id "
        "GROUP BY d.clinic_id, d.device_id ORDER BY d.clinic_id, d.device_id")
    out = []
    for clinic, device, n, last, mean_lag, max_lag, tel_at, tel in rows:
        tel = json.loads(tel) if tel else {}
        out.append({"clinic_id": clinic, "device_id": device, "results": int(n), "last_received_at": last,
                    "mean_lag_s": None if mean_lag is None else round(float(mean_lag), 3),
                    "max_lag_s": None if max_lag is None else round(float(max_lag), 3),
                    "outbox_len": tel.get("outbox_len"), "last_telemetry_at": tel_at,
                    "device_last_sync_at": tel.get("last_sync_at")})
    return out


def counts(db: Database) -> dict[str, int]:
    return {table: int(db.query(f"SELECT COUNT(*) FROM {table}")[0][0])
            for table in ("results", "rejected", "devices", "telemetry")}
