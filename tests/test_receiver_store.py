"""Receiver storage, the same schema on SQLite and PostgreSQL; the read API; the start command."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
from mqtt_broker import REPO, Broker, broker, free_port, make_exam, receiver_db, sync_settings  # noqa: F401

from edge.store import ResultStore
from edge.sync.payload import TELEMETRY_FORMAT, build_payload, encode
from edge.sync.worker import SyncWorker
from receiver import queries
from receiver.api import ApiServer, make_app
from receiver.db import Database
from receiver.service import Receiver, ReceiverSettings

def payload_on(day: str, clinic: str = "clinic-a", device: str = "dev-1") -> dict:
    p = build_payload(make_exam(clinic, device), f"{day}T10:00:05.000Z")
    p["started_at"], p["ended_at"] = f"{day}T10:00:00.000Z", f"{day}T10:04:00.000Z"
    return p


def test_idempotent_insert_and_conflicts_keep_the_first(receiver_db: Database) -> None:
    db = receiver_db
    db.register_device("clinic-a", "dev-1")
    a, b = payload_on("2026-11-20"), payload_on("2026-11-21")
    now = datetime(2026, 11, 21, 12, tzinfo=timezone.utc)
    out = db.store([a, b, a], [], [], now)                          # a duplicate inside the batch too
    assert sorted(out.inserted) == sorted([a["result_id"], b["result_id"]]) and out.duplicates == [a["result_id"]]
    changed = json.loads(json.dumps(a))
    changed["measurements"]["hc"]["value"] = 200.0
    out = db.store([a, changed], [], [], now)
    assert out.duplicates == [a["result_id"]] and out.conflicts == [a["result_id"]] and not out.inserted
    stored = json.loads(db.query("SELECT payload FROM results WHERE result_id = ?", (a["result_id"],))[0][0])
    assert stored["measurements"]["hc"]["value"] == 181.5
    assert db.query("SELECT COUNT(*) FROM results")[0][0] == 2
    assert "replayed with different content" in db.query("SELECT reason FROM rejected")[0][0]


def test_queries_by_clinic_device_date_and_lag(receiver_db: Database) -> None:
    db = receiver_db
    for clinic, device in (("clinic-a", "dev-1"), ("clinic-a", "dev-2"), ("clinic-b", "dev-1")):
        db.register_device(clinic, device)
    rows = [payload_on("2026-11-19"), payload_on("2026-11-20"), payload_on("2026-11-21"),
            payload_on("2026-11-20", device="dev-2"), payload_on("2026-11-20", clinic="clinic-b")]
    received = datetime(2026, 11, 21, 10, 0, 5, tzinfo=timezone.utc)
    tel = {"format": TELEMETRY_FORMAT, "clinic_id": "clinic-a", "device_id": "dev-1", "at": "2026-11-21T10:00:00Z",
           "free_disk_mb": 900.0, "outbox_len": 3, "models": [], "last_exam_fps": 14.5,
           "last_sync_at": "2026-11-21T09:59:00Z", "store_warning": None}
    db.store(rows, [], [tel], received)
    s = db.session()
    assert len(queries.results(s, clinic="clinic-a")) == 4
    assert len(queries.results(s, clinic="clinic-a", device="dev-1")) == 3
    got = queries.results(s, clinic="clinic-a", device="dev-1", day_from="2026-11-20", day_to="2026-11-20")
    assert [r["result_id"] for r in got] == [rows[1]["result_id"]]
    assert len(queries.results(s, day_from="2026-11-20")) == 4
    lag = {(r["clinic_id"], r["device_id"]): r for r in queries.lag(s)}
    a1 = lag[("clinic-a", "dev-1")]
    assert a1["results"] == 3 and a1["outbox_len"] == 3 and a1["device_last_sync_at"] == "2026-11-21T09:59:00.000Z"
    # lag = receipt - device save time: 2 days, 1 day and 0 s for the three clinic-a/dev-1 results
    assert a1["max_lag_s"] == pytest.approx(2 * 86400) and a1["mean_lag_s"] == pytest.approx(86400)
    assert lag[("clinic-b", "dev-1")]["results"] == 1 and lag[("clinic-a", "dev-2")]["outbox_len"] is None
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        queries.results(s, day_from="last week")
    s.close()


def test_read_api_over_http(tmp_path: Path) -> None:
    url = str(tmp_path / "rx.sqlite")
    db = Database(url)
    db.register_device("clinic-a", "dev-1")
    db.store([payload_on("2026-11-20"), payload_on("2026-11-21")], [], [], datetime.now(timezone.utc))
    server = ApiServer(make_app(db.engine), "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        got = json.load(urllib.request.urlopen(f"{base}/results?clinic=clinic-a&from=2026-11-21"))
        assert len(got) == 1 and got[0]["started_at"].startswith("2026-11-21") and "received_at" in got[0]
        assert json.load(urllib.request.urlopen(f"{base}/lag"))[0]["results"] == 2
        for bad, status in (("/results?from=tomorrow", 400), ("/results?clinc=x", 400), ("/nope", 404),
                            ("/results?clinic=a'%3B+DROP+TABLE+results%3B--", 400), ("/results?limit=-1", 400),
                            ("/results?from=2026-13-45", 400), ("/health", 503)):   # no receiver running here
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(base + bad)
            body = json.load(err.value)
            assert err.value.code == status and ("error" in body or body["status"] == "down"), (bad, body)
    finally:
        server.stop()


def test_fetal_receiver_start_command_end_to_end(broker: Broker, tmp_path: Path) -> None:  # noqa: F811
    db = str(tmp_path / "rx.sqlite")
    cli = [sys.executable, "-m", "receiver.cli"]
    subprocess.run(cli + ["add-device", "clinic-a", "dev-1", "--db", db], check=True, cwd=REPO, capture_output=True)
    http = free_port()
    proc = subprocess.Popen(cli + ["serve", "--db", db, "--no-tls", "--broker-port", str(broker.port),
                                   "--http-port", str(http)], cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        store = ResultStore(tmp_path / "dev.sqlite")
        exams = [make_exam() for _ in range(20)]
        store.save_many(exams)
        # until the receiver has subscribed the broker answers "No matching subscribers": the worker keeps
        # the results and retries
        SyncWorker(store, sync_settings(broker)).run(once=True, timeout_s=30)
        assert store.outbox_len() == 0
        deadline = time.monotonic() + 20
        got = []
        while len(got) < 20 and time.monotonic() < deadline:
            try:
                got = json.load(urllib.request.urlopen(f"http://127.0.0.1:{http}/results?device=dev-1"))
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.1)
        assert sorted(r["result_id"] for r in got) == sorted(e.result_id for e in exams)
    finally:
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=10)[1]
    assert proc.returncode == 0, err


def test_results_of_an_unregistered_device_are_held_until_it_is_registered(tmp_path: Path) -> None:
    db_path = str(tmp_path / "rx.sqlite")
    rx = Receiver(Database(db_path), ReceiverSettings(tls=False))
    p = payload_on("2026-11-20", "clinic-new", "dev-9")
    rx.process([(b"fetal-edge/v1/clinic-new/dev-9/results", encode(p))])
    assert rx.stats.rejected == 1 and rx.stats.stored == 0
    cli = [sys.executable, "-m", "receiver.cli", "add-device", "clinic-new", "dev-9", "--db", db_path]
    out = subprocess.run(cli, cwd=REPO, capture_output=True, text=True, check=True)
    assert "1 held result(s) stored" in out.stdout
    db = Database(db_path)
    assert [r[0] for r in db.query("SELECT result_id FROM results")] == [p["result_id"]]
    again = subprocess.run(cli, cwd=REPO, capture_output=True, text=True, check=True)   # idempotent
    assert "0 held result(s) stored" in again.stdout and db.query("SELECT COUNT(*) FROM results")[0][0] == 1
