"""What the receiver stores from schema-1.1 results (typed columns, alert rows), reviews that supersede in
either arrival order, telemetry latest/history and its retention; on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
import random
from datetime import datetime, timedelta, timezone

from mqtt_broker import make_exam, receiver_db  # noqa: F401
from sqlalchemy import select
from sqlalchemy.orm import Session

from edge.results import utc_now
from edge.sync.payload import TELEMETRY_FORMAT, build_payload, encode, validate_result
from receiver.db import Database
from receiver.models import Alert, Device, Result, Telemetry, TelemetryHistory
from receiver.seed import exam_payload, make_world, review_of
from receiver.service import Receiver, ReceiverSettings

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)


def small_for_dates() -> tuple[dict, list]:
    """A realistic 1.1 result with an established GA and alerts (a fetus far below the 3rd centile)."""
    rng = random.Random(3)
    world = make_world(rng, 1, 1, NOW, 4)
    while True:
        p = exam_payload(rng, world, world.devices[0], NOW - timedelta(days=2), 224.0, -3.0)
        if p["dating"]["source"] == "established" and p["measurements"]["hc"]["flag"] == "ok" and p["alerts"]:
            return validate_result(p), world.devices


def topic(p: dict) -> bytes:
    return f"fetal-edge/v1/{p['clinic_id']}/{p['device_id']}/results".encode()


def test_typed_columns_and_alerts_of_a_1_1_result(receiver_db: Database) -> None:  # noqa: F811
    db = receiver_db
    p, devices = small_for_dates()
    db.register_device(devices[0]["clinic_id"], devices[0]["device_id"])
    rx = Receiver(db, ReceiverSettings(tls=False))
    rx.process([(topic(p), encode(p))])
    assert rx.stats.stored == 1
    with Session(db.engine) as s:
        r = s.get(Result, p["result_id"])
        alerts = s.scalars(select(Alert).where(Alert.result_id == r.result_id)).all()
    m = p["measurements"]
    assert r.schema_version == "1.1" and r.ga_source == "established" and r.ga_days == p["dating"]["ga_days"]
    assert r.edd.isoformat() == p["dating"]["edd"] and r.hc_value == m["hc"]["value"]
    assert r.hc_centile == m["hc"]["centile"] < 3 and r.hc_flag == "ok" and r.has_measurement
    assert r.review_state == "unreviewed" and r.supersedes is None and r.is_latest
    assert r.plane_frames == p["plane_summary"]["frames_classified"]
    assert r.alert_count == len(alerts) == len(p["alerts"]) and r.alert_severity == "refer"
    hc_alert = next(a for a in alerts if a.rule == "hc_below_p3")
    assert hc_alert.origin == "device" and hc_alert.centile == m["hc"]["centile"] and hc_alert.ack_at is None
    assert hc_alert.message == next(a["message"] for a in p["alerts"] if a["rule"] == "hc_below_p3")


def test_a_correction_supersedes_in_either_arrival_order(receiver_db: Database) -> None:  # noqa: F811
    db = receiver_db
    p, devices = small_for_dates()
    db.register_device(devices[0]["clinic_id"], devices[0]["device_id"])
    first = review_of(random.Random(1), p, NOW)                 # A <- B <- C: a review reviewed again
    second = review_of(random.Random(2), first, NOW)
    rx = Receiver(db, ReceiverSettings(tls=False))
    rx.process([(topic(second), encode(second))])               # the newest arrives first
    rx.process([(topic(p), encode(p)), (topic(first), encode(first))])
    latest = dict(db.query("SELECT result_id, is_latest FROM results"))
    assert {k: bool(v) for k, v in latest.items()} == {p["result_id"]: False, first["result_id"]: False,
                                                       second["result_id"]: True}
    assert db.query("SELECT supersedes FROM results WHERE result_id = ?", (second["result_id"],))[0][0] == \
        first["result_id"]


def test_telemetry_latest_history_and_retention(receiver_db: Database) -> None:  # noqa: F811
    db = receiver_db
    db.register_device("clinic-a", "dev-1")

    def tel(at: datetime, outbox: int) -> dict:
        return {"format": TELEMETRY_FORMAT, "clinic_id": "clinic-a", "device_id": "dev-1",
                "at": at.isoformat().replace("+00:00", "Z"), "free_disk_mb": 900.0, "outbox_len": outbox,
                "models": [], "last_exam_fps": 14.5, "last_sync_at": None, "store_warning": "<b>disk</b> low"}

    old, new, newest = NOW - timedelta(days=100), NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    db.store([], telemetry=[tel(old, 9)], received=old)
    db.store([], telemetry=[tel(newest, 1), tel(new, 5)], received=NOW)     # out of order in one batch
    db.store([], telemetry=[tel(new, 5)], received=NOW)                      # and a late copy of the older one
    with Session(db.engine) as s:
        latest = s.get(Telemetry, ("clinic-a", "dev-1"))
        assert latest.at == newest and latest.outbox_len == 1 and latest.store_warning == "<b>disk</b> low"
        assert s.get(Device, ("clinic-a", "dev-1")).last_seen_at == NOW
        assert len(s.scalars(select(TelemetryHistory)).all()) == 4
    rx = Receiver(db, ReceiverSettings(tls=False, keep_telemetry_days=30))
    rx._heartbeat()                                                           # heartbeat + hourly retention
    with Session(db.engine) as s:
        kept = sorted(t.at for t in s.scalars(select(TelemetryHistory)))
    assert kept == [new, new, newest]                                         # only the 100-day-old row went


def test_duplicates_of_a_review_and_conflicts_count_right(receiver_db: Database) -> None:  # noqa: F811
    db = receiver_db
    db.register_device("clinic-a", "dev-1")
    p = build_payload(make_exam(), utc_now())
    forged = copy.deepcopy(p)
    forged["measurements"]["hc"]["value"] = 99.0
    rx = Receiver(db, ReceiverSettings(tls=False))
    t = b"fetal-edge/v1/clinic-a/dev-1/results"
    rx.process([(t, encode(p)), (t, encode(p)), (t, encode(forged))])
    rx.process([(t, encode(p))])
    assert (rx.stats.stored, rx.stats.duplicates, rx.stats.conflicts) == (1, 2, 1)
    assert json.loads(db.query("SELECT payload FROM results")[0][0])["measurements"]["hc"]["value"] == \
        p["measurements"]["hc"]["value"]
