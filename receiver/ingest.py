"""Writing one batch of checked messages in one transaction: results idempotently on result_id, their alerts,
telemetry (latest + history), held and rejected messages; then, after the commit, devices' last-seen time
and `is_latest`.

Idempotency: `INSERT ... ON CONFLICT (result_id) DO NOTHING`; an id that was not inserted is a counted
duplicate when its stored content_sha256 equals the new one, else a conflict (logged in `rejected`, the first
content kept). It holds with several receivers writing to one PostgreSQL. `is_latest` is settled after the
commit (`settle_latest`): whichever of a result and its correction commits second sees the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import bindparam, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from receiver.extract import alert_rows, result_columns, telemetry_columns, with_alerts
from receiver.models import Alert, Device, Held, Rejected, Result, Telemetry, TelemetryHistory

CHUNK = 500


@dataclass
class Batch:
    """What one flush writes. results/telemetry: (payload, received_at); rejects/held: column dicts."""

    results: list[tuple[dict[str, Any], datetime]] = field(default_factory=list)
    telemetry: list[tuple[dict[str, Any], datetime]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    released: list[int] = field(default_factory=list)            # held rows now stored: deleted
    held_errors: dict[int, str] = field(default_factory=dict)    # held rows still refused: why


@dataclass
class BatchOutcome:
    inserted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def _insert(session: Session, model: type) -> Any:
    """INSERT with ON CONFLICT support (PostgreSQL or SQLite)."""
    dialect = postgresql if _postgres(session) else sqlite
    return dialect.insert(model)


def _chunks(items: list[Any], n: int = CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _pg_insert(session: Session, model: type, rows: list[dict[str, Any]], suffix: str = "") -> list[Any]:
    """PostgreSQL: one prepared INSERT run for every row in a pipeline (psycopg executemany): several times
    faster than one huge multi-VALUES statement. `suffix` may end in RETURNING <column> (one column)."""
    cols = list(rows[0])
    sql = (f"INSERT INTO {model.__tablename__} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
           f"{suffix}")
    cursor = session.connection().connection.driver_connection.cursor()
    returning = "RETURNING" in suffix
    cursor.executemany(sql, [tuple(r[c] for c in cols) for r in rows], returning=returning)
    out: list[Any] = []
    while returning:
        out += [r[0] for r in cursor.fetchall()]
        if not cursor.nextset():
            break
    return out


def _insert_all(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if _postgres(session):
        _pg_insert(session, model, rows)
    else:
        session.execute(_insert(session, model), rows)


def _pg_copy_results(session: Session, rows: list[dict[str, Any]]) -> list[str]:
    """PostgreSQL: COPY the batch into a transaction-scoped staging table, then one INSERT ... SELECT ... ON
    CONFLICT DO NOTHING RETURNING (the fastest idempotent bulk insert: no per-row protocol round)."""
    cols = ", ".join(rows[0])
    cursor = session.connection().connection.driver_connection.cursor()
    cursor.execute("CREATE TEMP TABLE IF NOT EXISTS incoming_results (LIKE results) ON COMMIT DELETE ROWS")
    with cursor.copy(f"COPY incoming_results ({cols}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row(tuple(r.values()))
    cursor.execute(f"INSERT INTO results ({cols}) SELECT {cols} FROM incoming_results "
                   f"ON CONFLICT (result_id) DO NOTHING RETURNING result_id")
    ids = [r[0] for r in cursor.fetchall()]
    cursor.execute("TRUNCATE incoming_results")       # a second batch in the same transaction starts empty
    return ids


def _insert_results(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert what is new; the result_ids actually inserted."""
    if _postgres(session):
        return set(_pg_copy_results(session, rows)) if rows else set()
    inserted: set[str] = set()
    for chunk in _chunks(rows):
        stmt = _insert(session, Result).on_conflict_do_nothing(index_elements=["result_id"])
        inserted.update(session.scalars(stmt.returning(Result.result_id), chunk))
    return inserted


def _stored_digests(session: Session, ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(ids):
        found.update(session.execute(select(Result.result_id, Result.content_sha256)
                                     .where(Result.result_id.in_(chunk))).tuples().all())
    return found


def _write_results(session: Session, batch: Batch, out: BatchOutcome) -> None:
    rows: dict[str, dict[str, Any]] = {}
    alerts: dict[str, list[dict[str, Any]]] = {}
    later: list[dict[str, Any]] = []                 # a second copy of an id inside this batch
    for payload, received_at in batch.results:
        found = alert_rows(payload, received_at)
        row = with_alerts(result_columns(payload, received_at), found)
        if row["result_id"] in rows:
            later.append(row)
            continue
        rows[row["result_id"]], alerts[row["result_id"]] = row, found
    inserted = _insert_results(session, list(rows.values()))
    not_new = [r for rid, r in rows.items() if rid not in inserted] + later
    stored = _stored_digests(session, sorted({r["result_id"] for r in not_new}))
    for rid in rows:
        if rid in inserted:
            out.inserted.append(rid)
    for r in not_new:
        rid, first = r["result_id"], stored.get(r["result_id"], rows[r["result_id"]]["content_sha256"])
        if first == r["content_sha256"]:
            out.duplicates.append(rid)
            continue
        out.conflicts.append(rid)
        batch.rejects.append({"received_at": r["received_at"], "topic": "(replayed id)", "size": len(r["payload"]),
                              "sha256": r["content_sha256"],
                              "reason": f"result_id {rid} replayed with different content (stored {first[:12]}, "
                                        f"got {r['content_sha256'][:12]}); kept the first"})
    _insert_all(session, Alert, [a for rid in out.inserted for a in alerts[rid]])


_TOUCH = (update(Device.__table__)
          .where(Device.clinic_id == bindparam("c"), Device.device_id == bindparam("d"),
                 or_(Device.last_seen_at.is_(None), Device.last_seen_at < bindparam("t")))
          .values(last_seen_at=bindparam("t")))


def touch_devices(session: Session, batch: Batch) -> None:
    """After the batch is committed: devices' last-seen times, one statement for all (in a fixed order, so
    receivers updating the same devices at once cannot deadlock; kept out of the batch's transaction so
    its row locks are short)."""
    seen: dict[tuple[str, str], datetime] = {}
    for payload, at in batch.results + batch.telemetry:
        key = (payload["clinic_id"], payload["device_id"])
        seen[key] = max(at, seen.get(key, at))
    if seen:
        session.execute(_TOUCH, [{"c": c, "d": d, "t": at} for (c, d), at in sorted(seen.items())])


def _write_telemetry(session: Session, batch: Batch) -> None:
    rows = [telemetry_columns(t, at) for t, at in batch.telemetry]
    if not rows:
        return
    _insert_all(session, TelemetryHistory, rows)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r["clinic_id"], r["device_id"])
        if key not in latest or r["at"] >= latest[key]["at"]:
            latest[key] = r
    stmt = _insert(session, Telemetry)
    stmt = stmt.on_conflict_do_update(index_elements=["clinic_id", "device_id"],
                                      set_={c: stmt.excluded[c] for c in rows[0] if c not in ("clinic_id",
                                                                                             "device_id")},
                                      where=Telemetry.at <= stmt.excluded.at)
    session.execute(stmt, list(latest.values()))


def write_batch(session: Session, batch: Batch) -> BatchOutcome:
    """Everything of one batch in the session's transaction (the caller commits)."""
    out = BatchOutcome()
    if batch.results:
        _write_results(session, batch, out)
    _write_telemetry(session, batch)
    _insert_all(session, Rejected, batch.rejects)
    _insert_all(session, Held, batch.held)
    for chunk in _chunks(batch.released):
        session.execute(Held.__table__.delete().where(Held.id.in_(chunk)))
    for held_id, error in batch.held_errors.items():
        session.execute(update(Held).where(Held.id == held_id).values(last_error=error))
    return out


def settle_latest(session: Session, results: list[dict[str, Any]]) -> None:
    """After the batch is committed: a result superseded by a stored one is not the latest (both directions)."""
    ids = [p["result_id"] for p in results]
    replaced = sorted({p["supersedes"] for p in results if p.get("supersedes")})
    newer = aliased(Result)
    for chunk in _chunks(replaced):
        session.execute(update(Result).where(Result.result_id.in_(chunk), Result.is_latest).values(is_latest=False))
    for chunk in _chunks(ids):
        session.execute(update(Result).where(
            Result.result_id.in_(chunk), Result.is_latest,
            exists(select(newer.result_id).where(newer.supersedes == Result.result_id))).values(
            is_latest=False))


def prune_history(session: Session, before: datetime) -> int:
    """Delete telemetry history received before `before` (the latest row per device stays in `telemetry`)."""
    gone = session.execute(TelemetryHistory.__table__.delete().where(TelemetryHistory.received_at < before))
    session.commit()
    return gone.rowcount
