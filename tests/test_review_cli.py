"""`fetal-edge review`: a correction or acceptance is a new result superseding the old one, stored and synced
once (through a real mosquitto); bad reviews are refused naming the value and store nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from clinical_fixtures import exam_32_weeks
from mqtt_broker import REPO, Broker, RunningReceiver, broker, sync_settings  # noqa: F401

from edge.store import ResultStore
from edge.sync.worker import SyncWorker





def edge_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "dev.sqlite"
    exam = exam_32_weeks()
    with ResultStore(db) as store:
        store.save(exam, image_png=b"\x89PNG fake")
    return db, exam.result_id


def test_correction_is_a_new_result_that_supersedes_and_rejudges(stored: tuple[Path, str]) -> None:
    db, rid = stored
    done = edge_cli("review", rid, "--correct", "hc=294", "bpd=84", "--by", "Midwife A", "--note",
                    "head re-measured on the scanner", "--store", str(db))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    new = out["exam"]
    assert out["supersedes"] == rid and new["result_id"] != rid and new["supersedes"] == rid
    assert new["review"]["state"] == "corrected" and new["review"]["by"] == "Midwife A"
    hc = new["measurements"]["hc"]
    assert hc["value"] == 294.0 and hc["method"] == "review_correction" and hc["source"] == "manual"
    assert "was 265 mm" in hc["reason"] and hc["centile"] == pytest.approx(50, abs=2)
    assert not any(a["rule"] == "hc_below_p3" for a in new["alerts"])      # the alert went with the error
    assert new["dating"]["ga_text"] == "32w0d" and new["pregnancy"]["lmp"] == "2026-05-02"
    with ResultStore(db) as store:
        assert store.get(rid)["measurements"]["hc"]["value"] == 265.0     # the original is never edited
        assert store.outbox_len() == 2 and store.superseded_by(rid) == new["result_id"]
        assert store.image_for(new["result_id"]) == b"\x89PNG fake"      # the report prints the exam's frame


def test_acceptance_keeps_every_number(stored: tuple[Path, str]) -> None:
    db, rid = stored
    done = edge_cli("review", rid, "--accept", "--by", "Sonographer B", "--store", str(db))
    assert done.returncode == 0, done.stderr
    new = json.loads(done.stdout)["exam"]
    with ResultStore(db) as store:
        old = store.get(rid)
    assert new["review"]["state"] == "accepted" and new["measurements"] == old["measurements"]
    assert new["alerts"] == old["alerts"]


@pytest.mark.parametrize("args, message", [
    (["--correct", "hc=0"], "--correct hc=0 mm: must be a finite number > 0"),
    (["--correct", "hc=900"], "--correct hc=900 mm: HC 900 mm is outside what a fetus can have"),
    (["--correct", "head=250"], "--correct 'head=250': write name=mm with name one of"),
    (["--accept", "--note", "call +254 712 345 678"], "looks like it holds a phone or ID number"),
    (["--accept", "--by", "x" * 81], "--by: 1-80 characters, got 81"),
])
def test_bad_reviews_are_refused_and_store_nothing(stored: tuple[Path, str], args: list[str], message: str) -> None:
    db, rid = stored
    done = edge_cli("review", rid, *args, "--store", str(db))
    assert done.returncode == 3 and message in done.stderr, done.stderr
    with ResultStore(db) as store:
        assert store.count() == 1 and store.outbox_len() == 1


def test_unknown_ids_and_second_reviews_are_refused(stored: tuple[Path, str]) -> None:
    db, rid = stored
    unknown = "00000000-0000-4000-8000-000000000000"
    done = edge_cli("review", unknown, "--accept", "--store", str(db))
    assert done.returncode == 3 and f"no result {unknown} in {db}" in done.stderr
    done = edge_cli("review", "not-an-id", "--accept", "--store", str(db))
    assert done.returncode == 3 and "'not-an-id' is not a result id" in done.stderr
    first = edge_cli("review", rid, "--accept", "--store", str(db))
    newer = json.loads(first.stdout)["result_id"]
    again = edge_cli("review", rid, "--correct", "hc=280", "--store", str(db))
    assert again.returncode == 3 and f"already reviewed: result {newer} supersedes it; review {newer}" in again.stderr
    with ResultStore(db) as store:
        assert store.count() == 2
    assert edge_cli("review", newer, "--correct", "hc=280", "--store", str(db)).returncode == 0  # the newest: fine


def test_review_and_original_reach_the_receiver_once_each_through_mosquitto(
        broker: Broker, stored: tuple[Path, str], tmp_path: Path) -> None:  # noqa: F811
    db, rid = stored
    review = json.loads(edge_cli("review", rid, "--correct", "hc=294", "--store", str(db)).stdout)
    store = ResultStore(db)
    with RunningReceiver(broker, str(tmp_path / "rx.sqlite")) as rx:
        worker = SyncWorker(store, sync_settings(broker))
        stop = threading.Event()
        t = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        t.start()
        deadline = time.monotonic() + 30
        while store.outbox_len() and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.run(stop=threading.Event(), once=True, timeout_s=5)   # nothing left: sends nothing again
        stop.set()
        t.join(10)
        assert rx.wait_for(2) == 2
        rows = rx.db.query("SELECT result_id, payload, is_latest FROM results")
    store.close()
    got = {r[0]: json.loads(r[1]) for r in rows}
    assert {r[0]: bool(r[2]) for r in rows} == {rid: False, review["result_id"]: True}   # the receiver shows the latest
    assert sorted(got) == sorted([rid, review["result_id"]])
    assert got[review["result_id"]]["supersedes"] == rid and got[rid]["supersedes"] is None
    assert got[review["result_id"]]["review"]["state"] == "corrected"
