"""Whether a sync service is running, told by a heartbeat file the worker keeps beside the results store.

`fetal-edge sync` rewrites `<store>.sync-status.json` (atomically) every `sync.progress_interval_s` with its pid,
host, when it started, its progress (published, acknowledged, refused, held, left in the outbox), whether it is
connected and its last error; on a clean exit it writes `stopped_at`. `service_status(store_path)` reads it:
running = the pid is alive on this host and the file is fresher than STALE_AFTER intervals. A killed service
leaves a file whose pid is gone ("not running"); a hung one stops rewriting it ("not responding").
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edge.results import utc_now

SUFFIX = ".sync-status.json"
STALE_AFTER = 3.0   # heartbeat intervals without a rewrite before a live pid counts as not responding


def heartbeat_path(store_path: str | Path) -> Path:
    p = Path(store_path)
    return p.with_name(p.name + SUFFIX)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # alive, owned by another user
        return True
    return True


def _age_s(stamp: str, now: datetime) -> float:
    return (now - datetime.fromisoformat(stamp.replace("Z", "+00:00"))).total_seconds()


class Heartbeat:
    """Written by the sync worker: `beat(progress)` while it runs, `stop(progress)` when it exits."""

    def __init__(self, store_path: str | Path, interval_s: float) -> None:
        self.path = heartbeat_path(store_path)
        self.base = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": utc_now(),
                     "interval_s": interval_s}

    def _write(self, fields: dict[str, Any]) -> None:
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps({**self.base, **fields, "updated_at": utc_now()}), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:   # a full or read-only disk must not stop sync; status then reports it not responding
            tmp.unlink(missing_ok=True)

    def beat(self, progress: dict[str, Any]) -> None:
        self._write({**progress, "stopped_at": None})

    def stop(self, progress: dict[str, Any]) -> None:
        self._write({**progress, "stopped_at": utc_now()})


def service_status(store_path: str | Path, now: datetime | None = None) -> dict[str, Any]:
    """{"running": bool, "state": running|not responding|stopped|not running|never started, "message", ...}."""
    path = heartbeat_path(store_path)
    now = now or datetime.now(timezone.utc)
    try:
        beat = json.loads(path.read_text(encoding="utf-8"))
        pid, host, interval = int(beat["pid"]), str(beat["host"]), float(beat["interval_s"])
        age = _age_s(str(beat["updated_at"]), now)
    except FileNotFoundError:
        return {"running": False, "state": "never started",
                "message": f"no sync service has run on this store (no {path.name})"}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return {"running": False, "state": "unknown", "message": f"{path} unreadable ({exc}); is sync running?"}
    info = {k: beat.get(k) for k in ("pid", "host", "started_at", "updated_at", "stopped_at", "connected",
                                      "published", "acknowledged", "refused", "held", "left", "last_error")}
    info["heartbeat_age_s"] = round(age, 1)
    here = host == socket.gethostname()
    if beat.get("stopped_at"):
        state, msg = "stopped", f"sync service (pid {pid}) stopped at {beat['stopped_at']}"
    elif here and not _pid_alive(pid):
        state, msg = "not running", (f"sync service (pid {pid}) is gone without stopping cleanly; last heartbeat "
                                     f"{age:.0f} s ago: start `fetal-edge sync`")
    elif age > STALE_AFTER * interval:
        state, msg = "not responding", (f"sync service (pid {pid} on {host}) last wrote its heartbeat {age:.0f} s "
                                        f"ago (every {interval:g} s expected): hung, or its disk is full")
    else:
        state = "running"
        msg = (f"sync service running (pid {pid}), {'connected' if beat.get('connected') else 'NOT connected'}; "
               f"{beat.get('acknowledged', 0)} acknowledged, {beat.get('left', '?')} left"
               + (f"; last error: {beat['last_error']}" if beat.get("last_error") and not beat.get("connected")
                  else ""))
    return {"running": state == "running", "state": state, "message": msg, **info}
