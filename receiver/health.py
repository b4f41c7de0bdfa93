"""Is the central side working? Each receiver process keeps a `LinkState` (broker connection, subscription,
last message, database) and writes it as a heartbeat row in `receivers`; `health_report` judges it.

Down (non-ok, HTTP 503) when: the database cannot be reached; a receiver is not connected to its broker, not
subscribed, or cannot write; a receiver's heartbeat is older than `stale_after_s` (it is not running); no
receiver has ever reported; or (optional `quiet_after_s`) no message has arrived for that long.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from receiver.database import db_errors
from receiver.extract import clip
from receiver.models import ReceiverProcess

HEARTBEAT_S = 5.0
STALE_AFTER_S = 30.0


def _link_problems(client_id: str, broker: str, connected: bool, subscribed: bool,
                   last_error: str | None) -> list[str]:
    if not connected:
        return [f"receiver {client_id}: not connected to the broker {broker}"
                + (f" ({last_error})" if last_error else "")]
    if not subscribed:
        return [f"receiver {client_id}: connected but not subscribed (check the broker ACL)"]
    return []


@dataclass
class LinkState:
    """What one receiver process knows about itself; written by its MQTT loop, read by health checks."""

    client_id: str
    broker: str
    topics: list[str] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    broker_connected: bool = False
    subscribed: bool = False
    database_ok: bool = True
    last_message_at: datetime | None = None
    last_error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    changed: bool = True               # a state worth a heartbeat now (not only every few seconds)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, **changes: Any) -> None:
        with self.lock:
            for k, v in changes.items():
                if k in ("broker_connected", "subscribed", "database_ok") and getattr(self, k) != v:
                    self.changed = True
                setattr(self, k, v)

    def problems(self) -> list[str]:
        out = _link_problems(self.client_id, self.broker, self.broker_connected, self.subscribed, self.last_error)
        if not self.database_ok:
            out.append(f"receiver {self.client_id}: cannot write to the database ({self.last_error})")
        return out

    def row(self) -> dict[str, Any]:
        with self.lock:
            return {"client_id": self.client_id, "host": socket.gethostname()[:200], "pid": os.getpid(),
                    "broker": self.broker[:200], "started_at": self.started_at,
                    "updated_at": datetime.now(timezone.utc), "broker_connected": self.broker_connected,
                    "subscribed": self.subscribed, "last_message_at": self.last_message_at,
                    "last_error": clip(self.last_error, 300),
                    **{k: self.counts.get(k, 0) for k in ("stored", "duplicates", "rejected", "held")}}


def write_heartbeat(session: Session, link: LinkState) -> None:
    link.changed = False
    session.merge(ReceiverProcess(**link.row()))
    session.commit()


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _receiver_json(r: ReceiverProcess, now: datetime, stale_after_s: float) -> tuple[dict[str, Any], list[str]]:
    age = (now - r.updated_at).total_seconds()
    if age > stale_after_s:
        problems = [f"receiver {r.client_id} on {r.host}: no heartbeat for {age:.0f} s (not running?)"]
    else:
        problems = _link_problems(r.client_id, r.broker, r.broker_connected, r.subscribed, r.last_error)
    return {"client_id": r.client_id, "host": r.host, "pid": r.pid, "broker": r.broker,
            "running": age <= stale_after_s, "broker_connected": r.broker_connected, "subscribed": r.subscribed,
            "last_message_at": _iso(r.last_message_at), "heartbeat_age_s": round(age, 1),
            "last_error": r.last_error, "stored": r.stored, "duplicates": r.duplicates, "rejected": r.rejected,
            "held": r.held}, problems


def _receivers(session: Session, now: datetime, stale_after_s: float,
               forget_after_s: float) -> tuple[list[dict[str, Any]], list[str]]:
    rows = session.scalars(select(ReceiverProcess).where(
        ReceiverProcess.updated_at >= now - timedelta(seconds=forget_after_s))
        .order_by(ReceiverProcess.client_id)).all()
    out, problems = [], []
    for r in rows:
        j, p = _receiver_json(r, now, stale_after_s)
        out.append(j)
        problems += p
    if not rows:
        problems.append("no receiver has reported (start `fetal-receiver serve`)")
    return out, problems


def health_report(engine: Engine, link: LinkState | None = None, stale_after_s: float = STALE_AFTER_S,
                  quiet_after_s: float | None = None, forget_after_s: float = 7 * 24 * 3600) -> dict[str, Any]:
    """The health of the central side as JSON: status "ok" or "down", and each problem in words.

    `link`: this process's own state (a receiver's /health); without it, every receiver's heartbeat row is
    judged (the dashboard's /health, `fetal-receiver status`). Receivers silent for `forget_after_s` are
    left out (scaled down long ago)."""
    now = datetime.now(timezone.utc)
    report: dict[str, Any] = {"checked_at": _iso(now)}
    problems: list[str] = []
    t0 = time.perf_counter()
    try:
        with Session(engine) as s:
            s.execute(text("SELECT 1"))
            receivers, receiver_problems = _receivers(s, now, stale_after_s, forget_after_s)
        report["database"] = {"ok": True, "latency_ms": round((time.perf_counter() - t0) * 1000, 1)}
    except db_errors() as exc:
        report["database"] = {"ok": False, "error": clip(f"{type(exc).__name__}: {exc}".splitlines()[0], 300)}
        problems.append(f"database unreachable: {report['database']['error']}")
        receivers, receiver_problems = [], []
    if link is not None:
        problems += link.problems()
        report["receiver"] = {**link.row(), "topics": link.topics}
        last = link.last_message_at
    else:
        problems += receiver_problems
        report["receivers"] = receivers
        seen = [r["last_message_at"] for r in receivers if r["last_message_at"]]
        last = max(datetime.fromisoformat(x.replace("Z", "+00:00")) for x in seen) if seen else None
    report["last_message_at"] = _iso(last)
    if quiet_after_s is not None and (last is None or (now - last).total_seconds() > quiet_after_s):
        problems.append(f"no message received for more than {quiet_after_s:.0f} s")
    report["status"] = "down" if problems else "ok"
    report["problems"] = problems
    return _jsonable(report)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    return _iso(obj) if isinstance(obj, datetime) else obj


def http_status(report: dict[str, Any]) -> int:
    return 200 if report.get("status") == "ok" else 503
