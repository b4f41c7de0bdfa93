"""Alembic migrations: a fresh database equals the models; a database made by the pre-SQLAlchemy receiver
(tests/legacy_receiver_db.py) upgrades in place on SQLite and PostgreSQL with every row kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from legacy_receiver_db import LONG_CLINIC, make_postgres, make_sqlite
from mqtt_broker import PG_URL, pg_schema
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from receiver.database import alembic_config, current_revision, make_engine, migrate, open_engine
from receiver.extract import utc
from receiver.models import Alert, Base, Clinic, Device, Held, Rejected, Result, Telemetry, TelemetryHistory

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()   # newest revision, whoever added it


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """(url, pg_schema) of an empty database of each kind."""
    if request.param == "sqlite":
        yield str(tmp_path / "rx.sqlite"), None
        return
    with pg_schema("fetal_mig") as schema:
        yield PG_URL, schema


def schema_diff(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


def test_fresh_database_matches_the_models(target: tuple[str, str | None]) -> None:
    engine = open_engine(*target)
    assert current_revision(engine) == HEAD and schema_diff(engine) == []
    migrate(engine)                               # again: nothing to do
    assert current_revision(engine) == HEAD


def make_legacy(url: str, schema: str | None) -> dict[str, Any]:
    return make_sqlite(Path(url)) if schema is None else make_postgres(url, schema)


def test_legacy_database_upgrades_in_place_with_every_row(target: tuple[str, str | None]) -> None:
    made = make_legacy(*target)
    payloads = {p["result_id"]: p for p in made["payloads"]}
    engine = open_engine(*target)
    assert current_revision(engine) == HEAD and schema_diff(engine) == []
    with Session(engine) as s:
        rows = {r.result_id: r for r in s.scalars(select(Result))}
        assert rows.keys() == payloads.keys()
        for rid, r in rows.items():                     # the stored text and its digest are kept byte for byte
            p = payloads[rid]
            assert json.loads(r.payload) == p and r.payload == json.dumps(p, sort_keys=True, separators=(",", ":"))
            assert r.started_at == utc(p["started_at"]) and r.saved_at == utc(p["saved_at"])
            assert r.received_at == utc("2026-11-30T12:00:00Z") and r.lag_s == (r.received_at - r.saved_at
                                                                                ).total_seconds()
            assert r.hc_value == p["measurements"]["hc"]["value"] and r.schema_version == "1.0"
            assert r.is_latest and r.review_state is None and r.week.weekday() == 0
        bad = rows[made["payloads"][1]["result_id"]]
        assert bad.flagged and bad.alert_count == 2 and bad.hc_flag == "implausible"
        assert sum(r.flagged for r in rows.values()) == 1
        assert sorted(a.rule for a in s.scalars(select(Alert))) == ["hc_implausible", "plausibility_hc_vs_bpd_ofd"]
        assert not rows[made["payloads"][4]["result_id"]].flagged      # no HC measured: not a flag
        devices = {(d.clinic_id, d.device_id): d for d in s.scalars(select(Device))}
        assert set(devices) == {("clinic-a", "dev-1"), ("clinic-a", "dev-2"), ("clinic-b", "dev-1"),
                                (LONG_CLINIC, "dev-1")}
        assert devices[("clinic-a", "dev-1")].last_seen_at == utc("2026-11-30T12:05:00Z")    # its telemetry
        assert {c.clinic_id for c in s.scalars(select(Clinic))} == {"clinic-a", "clinic-b", LONG_CLINIC}
        rejected = s.scalars(select(Rejected).order_by(Rejected.id)).all()
        assert [r.reason for r in rejected] == [r[1] for r in made["rejects"]]
        held = s.scalars(select(Held)).one()
        assert held.kind == "unknown_device" and json.loads(held.payload) == made["stranger"]
        assert s.scalar(select(func.count()).select_from(Telemetry)) == 1
        hist = s.scalars(select(TelemetryHistory)).one()
        assert json.loads(hist.payload) == made["telemetry"] and hist.outbox_len == 3
    with make_engine(*target).connect() as conn:
        names = set(inspect(conn).get_table_names())
    assert not {n for n in names if n.startswith("legacy_")}          # the working copies are gone
