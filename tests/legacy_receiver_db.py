"""A receiver database as the hand-written receiver (receiver/db.py before SQLAlchemy, commit b60aa8d) made it:
its DDL (migration 0001 keeps it verbatim), its text timestamps and canonical payload text, a conflict logged,
a hostile rejection, a result held for an unregistered device, telemetry. Rows are written with the DB-API
driver directly, as that code did, so the upgrade test starts from exactly what is in the field.

`python tests/legacy_receiver_db.py OUT.sqlite` writes one by hand.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mqtt_broker import make_exam  # noqa: E402

from edge.sync.payload import TELEMETRY_FORMAT, build_payload, validate_result  # noqa: E402

MIGRATION = Path(__file__).resolve().parent.parent / "receiver/migrations/versions/0001_legacy_schema.py"
LONG_CLINIC = "C" * 64
DEVICES = (("clinic-a", "dev-1"), ("clinic-a", "dev-2"), ("clinic-b", "dev-1"), (LONG_CLINIC, "dev-1"))


def legacy_ddl() -> tuple[str, ...]:
    spec = importlib.util.spec_from_file_location("legacy_0001", MIGRATION)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.LEGACY_DDL


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def canonical(p: dict[str, Any]) -> str:
    return json.dumps(p, sort_keys=True, separators=(",", ":"))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def legacy_payloads(n: int) -> list[dict[str, Any]]:
    """n results over four devices and several weeks; one implausible HC with a failed plausibility check."""
    start = datetime(2026, 10, 5, 9, tzinfo=timezone.utc)
    out = []
    for i in range(n):
        clinic, device = DEVICES[i % len(DEVICES)]
        when = start + timedelta(hours=7 * i)
        exam = make_exam(clinic, device, hc=None if i % 9 == 4 else 150.0 + i % 60)
        exam.schema_version = "1.0"     # what devices sent before schema 1.1 (build_payload writes each version)
        p = build_payload(exam, iso(when))
        p["started_at"], p["ended_at"] = iso(when - timedelta(minutes=5)), iso(when - timedelta(minutes=1))
        out.append(p)
    bad = out[1]
    bad["measurements"]["hc"].update(value=2154.67 / 5, flag="implausible", reason="<b>pixel size</b> too large")
    bad["plausibility"][0].update(ok=False, value=1.4)
    validate_result(bad)
    return out


def fill(conn: Any, placeholder: str = "?", n: int = 40) -> dict[str, Any]:
    """Write the legacy schema and rows through a DB-API connection (sqlite3: "?", psycopg: "%s")."""
    def q(sql: str) -> str:
        return sql.replace("?", placeholder)

    cur = conn.cursor()
    for stmt in legacy_ddl():
        cur.execute(stmt)
    received = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    for i, (clinic, device) in enumerate(DEVICES):
        cur.execute(q("INSERT INTO devices (clinic_id, device_id, registered_at) VALUES (?, ?, ?)"),
                    (clinic, device, iso(datetime(2026, 10, 1, tzinfo=timezone.utc) + timedelta(days=i))))
    payloads = legacy_payloads(n)
    for p in payloads:
        text = canonical(p)
        saved = datetime.fromisoformat(p["saved_at"].replace("Z", "+00:00"))
        cur.execute(q("INSERT INTO results (result_id, clinic_id, device_id, started_at, saved_at, received_at, "
                      "lag_s, content_sha256, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                    (p["result_id"], p["clinic_id"], p["device_id"], p["started_at"], p["saved_at"], iso(received),
                     (received - saved).total_seconds(), sha(text), text))
    replayed = copy.deepcopy(payloads[0])
    replayed["measurements"]["bpd"]["value"] = 50.0
    stranger = build_payload(make_exam("clinic-new", "dev-9"), iso(received))
    rejects = [
        ("(replayed id)", f"result_id {replayed['result_id']} replayed with different content (stored "
         f"{sha(canonical(payloads[0]))[:12]}, got {sha(canonical(replayed))[:12]}); kept the first", len(canonical(replayed)),
         sha(canonical(replayed)), None),
        ("fetal-edge/v1/clinic-a/dev-1/results", "format: <script>alert(1)</script>'; DROP TABLE results; --",
         77, "ab" * 32, None),
        ("fetal-edge/v1/clinic-new/dev-9/results", "unknown device clinic-new/dev-9; its results are held until "
         "it is registered", 1800, sha(canonical(stranger)), canonical(stranger)),
    ]
    for topic, reason, size, digest, held in rejects:
        cur.execute(q("INSERT INTO rejected (received_at, topic, reason, size, sha256, held_payload) VALUES "
                      "(?, ?, ?, ?, ?, ?)"), (iso(received), topic, reason, size, digest, held))
    tel = {"format": TELEMETRY_FORMAT, "clinic_id": "clinic-a", "device_id": "dev-1", "at": iso(received),
           "free_disk_mb": 900.0, "outbox_len": 3, "models": [], "last_exam_fps": 14.5,
           "last_sync_at": iso(received), "store_warning": None}
    cur.execute(q("INSERT INTO telemetry (clinic_id, device_id, received_at, payload) VALUES (?, ?, ?, ?)"),
                ("clinic-a", "dev-1", iso(received + timedelta(minutes=5)), canonical(tel)))
    conn.commit()
    return {"payloads": payloads, "stranger": stranger, "telemetry": tel, "rejects": rejects}


def make_sqlite(path: Path, n: int = 40) -> dict[str, Any]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return fill(conn, "?", n)
    finally:
        conn.close()


def make_postgres(url: str, schema: str, n: int = 40) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(f'SET search_path TO "{schema}"')
        return fill(conn, "%s", n)


if __name__ == "__main__":
    make_sqlite(Path(sys.argv[1]))
