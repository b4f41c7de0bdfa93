"""The on-device results store / outbox: durable before save returns, bounded without silent loss,
loud on full disks and corrupt files."""

from __future__ import annotations

import logging
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mqtt_broker import REPO, make_exam

from edge.errors import SyncError
from edge.settings.store import StoreSettings
from edge.store import ResultStore

CHILD = """
import sys
sys.path.insert(0, {repo!r}); sys.path.insert(0, {tests!r})
from mqtt_broker import make_exam
from edge.store import ResultStore
store = ResultStore({db!r})
while True:
    exam = make_exam()
    store.save(exam)
    print(exam.result_id, flush=True)
"""


def test_saved_result_is_committed_in_wal_with_full_sync(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite")
    exam = make_exam()
    receipt = store.save(exam)
    other = sqlite3.connect(tmp_path / "r.sqlite")         # another process's view
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2   # FULL
    assert other.execute("SELECT result_id FROM outbox").fetchall() == [(exam.result_id,)]
    assert receipt.result_id == exam.result_id and store.get(exam.result_id) == exam.to_dict()
    assert store.pending()[0].exam["measurements"]["hc"]["value"] == 181.5


def test_same_result_twice_is_a_no_op_and_a_reused_id_is_refused(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite")
    exam = make_exam()
    first = store.save(exam)
    assert store.save(exam).saved_at == first.saved_at and store.outbox_len() == 1
    exam.frames += 1
    with pytest.raises(SyncError, match="already saved with different content"):
        store.save(exam)
    assert store.get(exam.result_id)["frames"] == 150


def test_kill_9_during_saves_loses_nothing_that_was_reported_saved(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    code = CHILD.format(repo=str(REPO), tests=str(REPO / "tests"), db=str(db))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    reported = []
    deadline = time.monotonic() + 60
    while len(reported) < 200 and time.monotonic() < deadline:
        reported.append(proc.stdout.readline().strip())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = ResultStore(db)
    assert store.quarantined is None
    pending = {i.result_id for i in store.pending(limit=100000)}
    assert len(reported) == 200 and set(reported) <= pending
    assert store.count() == store.outbox_len() == len(pending)   # no result without its outbox entry


def test_synced_results_are_pruned_unsynced_never(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite", StoreSettings(keep_synced=2, max_unsynced=3))
    exams = [make_exam() for _ in range(5)]
    receipts = store.save_many(exams)
    assert any("5 unsynced results" in w for w in receipts[-1].warnings)      # warned, nothing dropped
    assert store.outbox_len() == 5
    store.mark_sent([e.result_id for e in exams[:4]])
    assert store.outbox_len() == 1 and store.count() == 3                   # 1 unsynced + 2 newest synced
    assert store.get(exams[4].result_id) is not None and store.last_sync() is not None


def test_low_disk_gives_a_warning_and_still_saves(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite", StoreSettings(min_free_mb=1e9))
    receipt = store.save(make_exam())
    assert receipt.warnings and "low disk" in receipt.warnings[0] and store.outbox_len() == 1


def test_full_disk_raises_and_says_the_result_was_not_saved(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite")
    kept = store.save(make_exam())
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")       # SQLite's own "disk is full" (SQLITE_FULL)
    with pytest.raises(SyncError, match="NOT saved.*full"):
        store.save_many([make_exam() for _ in range(50)])
    assert store.count() == 1 and store.outbox_len() == 1 and store.get(kept.result_id) is not None


@pytest.mark.parametrize("damage", ["garbage", "overwritten_pages"])
def test_corrupt_database_is_moved_aside_and_a_new_store_starts(tmp_path: Path, damage: str,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "r.sqlite"
    if damage == "garbage":
        db.write_bytes(b"this is not a database" * 100)
    else:
        with ResultStore(db) as store:
            store.save_many([make_exam() for _ in range(300)])
            store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw = bytearray(db.read_bytes())
        raw[4096:4096 * 3] = b"\xde\xad\xbe\xef" * 2048
        db.write_bytes(bytes(raw))
    original = db.read_bytes()
    with caplog.at_level(logging.ERROR):
        store = ResultStore(db)
    assert store.quarantined is not None and store.quarantined.read_bytes() == original
    assert "corrupt" in caplog.text and str(store.quarantined) in caplog.text
    store.save(make_exam())
    assert store.outbox_len() == 1


def test_a_store_from_a_newer_version_is_refused_and_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        store.save(make_exam())
        store._conn.execute("PRAGMA user_version = 99")
    before = db.read_bytes()
    with pytest.raises(SyncError, match="format 99, newer than"):
        ResultStore(db)
    assert db.read_bytes() == before
