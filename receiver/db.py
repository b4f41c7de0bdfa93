"""Receiver storage: one schema on SQLite (default) or PostgreSQL (psycopg 3). Inserts are idempotent on
result_id: the same content again is a counted duplicate; the same id with other content is a conflict,
rejected and logged, never overwriting what was stored first."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS devices (clinic_id TEXT NOT NULL, device_id TEXT NOT NULL, "
    "registered_at TEXT NOT NULL, PRIMARY KEY (clinic_id, device_id))",
    "CREATE TABLE IF NOT EXISTS results (result_id TEXT PRIMARY KEY, clinic_id TEXT NOT NULL, "
    "device_id TEXT NOT NULL, started_at TEXT NOT NULL, saved_at TEXT NOT NULL, received_at TEXT NOT NULL, "
    "lag_s DOUBLE PRECISION NOT NULL, content_sha256 TEXT NOT NULL, payload TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS results_by_device ON results (clinic_id, device_id, started_at)",
    # held_payload: kept only for schema-valid results from a device not registered yet (see release_held)
    "CREATE TABLE IF NOT EXISTS rejected (received_at TEXT NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL, "
    "size INTEGER NOT NULL, sha256 TEXT NOT NULL, held_payload TEXT)",
    "CREATE TABLE IF NOT EXISTS telemetry (clinic_id TEXT NOT NULL, device_id TEXT NOT NULL, "
    "received_at TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (clinic_id, device_id))",
]


def db_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a failing database raises (psycopg only when installed)."""
    try:
        import psycopg
    except ImportError:
        return (sqlite3.Error, OSError)
    return (sqlite3.Error, OSError, psycopg.Error)


def utc(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(timezone.utc)


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))  # ASCII: lone surrogates, NUL escaped


def clean_text(text: str, limit: int = 300) -> str:
    """Something safe to store/log from hostile input: no NUL, no surrogates, bounded."""
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\0")


@dataclass
class BatchOutcome:
    inserted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


class Database:
    """`Database("results.sqlite")` or `Database("postgresql://127.0.0.1:5432/test", pg_schema="x")`."""

    def __init__(self, url: str, pg_schema: str | None = None) -> None:
        self.url = url
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        if self.postgres:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=False)
            if pg_schema:
                self.conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{pg_schema}"')
                self.conn.execute(f'SET search_path TO "{pg_schema}"')
        else:
            path = url.removeprefix("sqlite:///")
            self.conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
        for stmt in SCHEMA:
            self.conn.execute(stmt)
        self.conn.commit()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def execute(self, sql: str, params: Iterable[Any] = ()) -> Any:
        cur = self.conn.cursor()
        cur.execute(self._sql(sql), tuple(params))
        return cur

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        rows = self.execute(sql, params).fetchall()
        self.conn.commit()
        return rows

    def register_device(self, clinic_id: str, device_id: str) -> None:
        self.execute("INSERT INTO devices (clinic_id, device_id, registered_at) VALUES (?, ?, ?) "
                     "ON CONFLICT (clinic_id, device_id) DO NOTHING",
                     (clinic_id, device_id, iso(datetime.now(timezone.utc))))
        self.conn.commit()

    def devices(self) -> set[tuple[str, str]]:
        return {(c, d) for c, d in self.query("SELECT clinic_id, device_id FROM devices")}

    def store(self, results: list[dict[str, Any]], rejects: list[tuple[str, str, int, str, str | None]],
              telemetry: list[dict[str, Any]], received: datetime) -> BatchOutcome:
        """One transaction: new results inserted, duplicates counted, conflicts and rejects logged."""
        out, now = BatchOutcome(), iso(received)
        seen: dict[str, str] = {}
        ids = [r["result_id"] for r in results]
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            seen.update(self.execute(f"SELECT result_id, content_sha256 FROM results WHERE result_id IN ({marks})",
                                     chunk).fetchall())
        rows = []
        for r in results:
            text = canonical(r)
            digest = hashlib.sha256(text.encode()).hexdigest()
            rid = r["result_id"]
            if rid in seen:
                (out.duplicates if seen[rid] == digest else out.conflicts).append(rid)
                if seen[rid] != digest:
                    rejects.append(("(replayed id)", f"result_id {rid} replayed with different content "
                                    f"(stored {seen[rid][:12]}, got {digest[:12]}); kept the first", len(text), digest,
                                    None))
                continue
            seen[rid] = digest
            rows.append((rid, r["clinic_id"], r["device_id"], iso(utc(r["started_at"])), iso(utc(r["saved_at"])),
                         now, max(0.0, (received - utc(r["saved_at"])).total_seconds()), digest, text))
            out.inserted.append(rid)
        cur = self.conn.cursor()
        if rows:
            cur.executemany(self._sql("INSERT INTO results (result_id, clinic_id, device_id, started_at, saved_at, "
                                      "received_at, lag_s, content_sha256, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                                      "ON CONFLICT (result_id) DO NOTHING"), rows)
        if rejects:
            cur.executemany(self._sql("INSERT INTO rejected (received_at, topic, reason, size, sha256, held_payload) "
                                      "VALUES (?, ?, ?, ?, ?, ?)"),
                            [(now, clean_text(t, 200), clean_text(why), n, h, held) for t, why, n, h, held in rejects])
        for t in telemetry:
            cur.execute(self._sql("INSERT INTO telemetry (clinic_id, device_id, received_at, payload) VALUES "
                                  "(?, ?, ?, ?) ON CONFLICT (clinic_id, device_id) DO UPDATE SET "
                                  "received_at = excluded.received_at, payload = excluded.payload"),
                        (t["clinic_id"], t["device_id"], now, canonical(t)))
        self.conn.commit()
        return out

    def release_held(self, clinic_id: str, device_id: str) -> list[tuple[str, str]]:
        """(topic, payload) of results held while the device was unknown; they are removed from the hold."""
        topic_end = f"/{clinic_id}/{device_id}/results"
        rows = [(t, p) for t, p in self.query("SELECT topic, held_payload FROM rejected WHERE held_payload IS NOT "
                                               "NULL") if t.endswith(topic_end)]
        if rows:
            self.conn.cursor().executemany(self._sql("UPDATE rejected SET held_payload = NULL WHERE topic = ? AND "
                                                     "held_payload = ?"), rows)
            self.conn.commit()
        return rows

    def close(self) -> None:
        self.conn.close()
