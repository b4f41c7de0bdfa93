"""Typed columns and alert rows from a validated result payload of any known schema version (1.0, 1.1).

A field a version does not carry is NULL (see receiver.models for what each column means). Text is bounded
here so no hostile payload can overflow a column on PostgreSQL; display code escapes it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

from receiver.models import MEASUREMENTS, NAME_MAX

SEVERITY_RANK = {"info": 1, "review": 2, "refer": 3}
RECEIVER_FLAGS = ("implausible", "out_of_range")       # a number a clinician must not act on: an alert
FLAGGED = ("low_quality", "implausible", "out_of_range")
BIOMETRY = ("hc", "bpd", "ofd", "ac", "fl")
MESSAGE_MAX = 2000


def utc(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(timezone.utc)


def canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))  # ASCII: lone surrogates, NUL escaped


def digest(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def clip(text: Any, limit: int) -> str | None:
    """Bounded, NUL-free, valid UTF-8 text (None stays None)."""
    if text is None:
        return None
    return str(text)[:limit].encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\0")


def monday(day: datetime) -> date:
    d = day.astimezone(timezone.utc).date()
    return d - timedelta(days=d.weekday())


def _day(text: Any) -> date | None:
    try:
        return date.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _time(text: Any) -> datetime | None:
    try:
        return utc(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _planes(p: dict[str, Any]) -> tuple[int | None, int | None, float | None]:
    summary = p.get("plane_summary")
    if isinstance(summary, dict):
        return summary.get("frames_classified"), summary.get("unknown_frames"), summary.get("mean_confidence")
    seen = p.get("planes_seen") or {}
    return int(sum(seen.values())), int(seen.get("unknown", 0)), None


def result_columns(p: dict[str, Any], received_at: datetime) -> dict[str, Any]:
    """The `results` row for payload `p` (alert_count/alert_severity come from alert_rows)."""
    text = canonical(p)
    started, saved = utc(p["started_at"]), utc(p["saved_at"])
    meas = p.get("measurements") or {}
    row: dict[str, Any] = {
        "result_id": p["result_id"], "clinic_id": p["clinic_id"], "device_id": p["device_id"],
        "schema_version": p["schema_version"], "status": p["status"], "started_at": started, "saved_at": saved,
        "received_at": received_at, "lag_s": max(0.0, (received_at - saved).total_seconds()),
        "week": monday(started), "content_sha256": digest(text), "payload": text,
        "patient_ref": p.get("patient_ref"),
    }
    for name in MEASUREMENTS:
        m = meas.get(name) or {}
        row[f"{name}_value"], row[f"{name}_flag"], row[f"{name}_centile"] = \
            m.get("value"), m.get("flag"), m.get("centile")
    dating = p.get("dating") or {}
    row["ga_days"] = dating.get("ga_days") if dating.get("ga_days") is not None else row["ga_value"]
    row["ga_source"] = dating.get("source")
    row["edd"] = _day(dating.get("edd"))
    row["has_measurement"] = any(row[f"{m}_value"] is not None for m in BIOMETRY)
    row["flagged"] = (any(row[f"{m}_flag"] in FLAGGED for m in MEASUREMENTS)
                      or any(not c.get("ok", True) for c in p.get("plausibility") or [])
                      or bool(p.get("exam_flags")))
    review = p.get("review") or {}
    row["review_state"] = review.get("state")
    row["review_by"] = clip(review.get("by"), NAME_MAX)
    row["review_at"] = _time(review.get("at"))
    row["supersedes"] = p.get("supersedes")
    row["is_latest"] = True
    row["plane_frames"], row["plane_unknown_frames"], row["plane_mean_confidence"] = _planes(p)
    return row


def _receiver_alerts(p: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, m in (p.get("measurements") or {}).items():
        if m.get("flag") in RECEIVER_FLAGS:
            value = "no value" if m.get("value") is None else f"{m['value']} {m.get('unit', '')}".strip()
            out.append({"rule": f"{name}_{m['flag']}", "measurement": name, "value": m.get("value"),
                        "unit": m.get("unit"), "threshold": "physiological range", "standard": None,
                        "centile": None, "severity": "review",
                        "message": f"{name.upper()} {m['flag'].replace('_', ' ')} ({value}): "
                                   f"{m.get('reason') or 'no reason given'}"})
    for c in p.get("plausibility") or []:
        if not c.get("ok", True):
            rng = c.get("range")
            out.append({"rule": f"plausibility_{c['check']}"[:64], "measurement": None, "value": c.get("value"),
                        "unit": None, "threshold": None if rng is None else f"{rng[0]}..{rng[1]}",
                        "standard": c.get("source"), "centile": None, "severity": "review",
                        "message": f"plausibility check {c['check']} failed: {c.get('value')} outside {rng}"})
    return out


def alert_rows(p: dict[str, Any], received_at: datetime) -> list[dict[str, Any]]:
    """One `alerts` row per device alert (1.1) and per implausible measurement or failed check."""
    started = utc(p["started_at"])
    rows = [dict(a, origin="device") for a in p.get("alerts") or []]
    rows += [dict(a, origin="receiver") for a in _receiver_alerts(p)]
    out = []
    for a in rows:
        out.append({"result_id": p["result_id"], "clinic_id": p["clinic_id"], "device_id": p["device_id"],
                    "started_at": started, "origin": a["origin"], "rule": clip(a.get("rule"), 64) or "alert",
                    "measurement": clip(a.get("measurement"), 16), "value": a.get("value"),
                    "unit": clip(a.get("unit"), 16), "threshold": clip(a.get("threshold"), 100),
                    "standard": clip(a.get("standard"), NAME_MAX), "centile": a.get("centile"),
                    "severity": a.get("severity") if a.get("severity") in SEVERITY_RANK else "review",
                    "message": clip(a.get("message") or "", MESSAGE_MAX), "created_at": received_at})
    return out


def with_alerts(row: dict[str, Any], alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """`row` with alert_count and the highest alert severity set."""
    severities = [a["severity"] for a in alerts]
    row["alert_count"] = len(alerts)
    row["alert_severity"] = max(severities, key=SEVERITY_RANK.__getitem__) if severities else None
    return row


def telemetry_columns(t: dict[str, Any], received_at: datetime) -> dict[str, Any]:
    return {"clinic_id": t["clinic_id"], "device_id": t["device_id"], "received_at": received_at,
            "at": utc(t["at"]), "free_disk_mb": t.get("free_disk_mb"), "outbox_len": t.get("outbox_len"),
            "last_exam_fps": t.get("last_exam_fps"), "last_sync_at": _time(t.get("last_sync_at")),
            "store_warning": clip(t.get("store_warning"), MESSAGE_MAX),
            "models": canonical(t.get("models") or []), "payload": canonical(t)}
