"""receiver.seed: generated results are valid schema-1.1 payloads whose typed columns and alerts are exactly
what live ingestion would store, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from mqtt_broker import receiver_db  # noqa: F401
from sqlalchemy import select
from sqlalchemy.orm import Session

from edge.sync.payload import validate_result
from receiver.db import Database
from receiver.extract import alert_rows, result_columns, with_alerts
from receiver.models import Alert, Result
from receiver.seed import seed_database

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)


def test_seeded_results_are_what_ingestion_would_store(receiver_db: Database) -> None:  # noqa: F811
    db = receiver_db
    assert seed_database(db.engine, 600, clinics=5, devices=12, now=NOW, patient_refs=True, chunk=250) == 600
    assert db.query("SELECT COUNT(*) FROM clinics")[0][0] == 5 and db.query("SELECT COUNT(*) FROM devices")[0][0] == 12
    assert db.query("SELECT COUNT(*) FROM telemetry")[0][0] == 12
    assert db.query("SELECT COUNT(*) FROM telemetry_history")[0][0] == 12 * 29
    with Session(db.engine) as s:
        rows = s.scalars(select(Result)).all()
        alerts = s.scalars(select(Alert)).all()
    payloads = {r.result_id: json.loads(r.payload) for r in rows}
    superseded = {p["supersedes"] for p in payloads.values() if p["supersedes"]}
    for r in rows:
        p = payloads[r.result_id]
        validate_result(p, allow_patient_ref=True)
        expected = with_alerts(result_columns(p, r.received_at), alert_rows(p, r.received_at))
        expected["is_latest"] = r.result_id not in superseded
        got = {k: getattr(r, k) for k in expected}
        assert got == expected, r.result_id
        assert r.started_at < r.saved_at <= r.received_at <= NOW
    assert sum(r.alert_count for r in rows) == len(alerts) > 0
    assert len(superseded) > 20 and all(not payloads[i]["supersedes"] or i not in superseded for i in payloads)
    acked = [a for a in alerts if a.ack_at is not None]
    assert acked and all(a.ack_by and a.ack_at >= a.created_at for a in acked)
    rules = Counter(a.rule for a in alerts)
    assert rules["hc_below_p3"] and rules["hc_implausible"], rules          # device and receiver alerts
    states = Counter(p["review"]["state"] for p in payloads.values())
    assert states["accepted"] and states["corrected"] and states["unreviewed"] > 400
    assert Counter(r.ga_source for r in rows)["established"] > 300
    visits = Counter(p["patient_ref"] for p in payloads.values())
    assert max(visits.values()) >= 3                                          # a pregnancy over several visits


def test_seed_is_deterministic_and_refuses_nonsense(tmp_path: Path) -> None:
    ids = []
    for name in ("a", "b"):
        db = Database(str(tmp_path / f"{name}.sqlite"))
        seed_database(db.engine, 150, clinics=3, devices=6, now=NOW)
        ids.append(sorted(r[0] for r in db.query("SELECT result_id FROM results")))
    assert ids[0] == ids[1] and len(ids[0]) == 150
    with pytest.raises(ValueError, match="devices >= clinics"):
        seed_database(db.engine, 10, clinics=10, devices=3)
    with pytest.raises(ValueError, match="already has 3 clinics"):              # never mixed into real data
        seed_database(db.engine, 10, clinics=3, devices=6)
