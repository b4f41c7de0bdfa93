"""Fault tests against a real mosquitto: after each, the receiver holds every result exactly once and
nothing on the device was lost."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import (REPO, Broker, RunningReceiver, broker, certs, make_exam, sync_settings,  # noqa: F401
                         tls_broker, wait_until)

from edge.errors import SyncError
from edge.store import ResultStore
from edge.sync.worker import SyncWorker
from receiver.database import db_errors
from receiver.db import Database


class WorkerThread:
    def __init__(self, worker: SyncWorker) -> None:
        self.worker, self.stop = worker, threading.Event()
        self.thread = threading.Thread(target=worker.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> "WorkerThread":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def assert_exactly_once(rx: RunningReceiver, store: ResultStore, saved: list[str]) -> None:
    ids = rx.ids()
    assert len(ids) == len(set(ids)) == len(saved), "duplicated or lost at the receiver"
    assert set(ids) == set(saved)
    assert store.outbox_len() == 0
    assert rx.receiver.stats.rejected == 0


def test_broker_down_for_a_whole_exam_session(broker: Broker, tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "dev.sqlite")
    with RunningReceiver(broker, str(tmp_path / "rx.sqlite")) as rx:   # its persistent session exists
        broker.stop()
        worker = SyncWorker(store, sync_settings(broker))
        with WorkerThread(worker):
            saved = []
            for _ in range(40):                          # the exam session while the broker is down
                saved.append(store.save(make_exam()).result_id)
                time.sleep(0.04)
            steps_while_down = worker.state.steps
            assert store.outbox_len() == 40 and worker.state.sent == 0
            assert worker.state.connect_failures >= 2 and "connection refused" in worker.state.last_error
            assert steps_while_down < 100                # sleeping between attempts, not spinning
            broker.start()
            assert wait_until(lambda: store.outbox_len() == 0 and rx.receiver.stats.stored >= 40)
        assert_exactly_once(rx, store, saved)


def test_broker_restarted_mid_drain(broker: Broker, tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "dev.sqlite")
    saved = [r.result_id for r in store.save_many([make_exam() for _ in range(3000)])]
    with RunningReceiver(broker, str(tmp_path / "rx.sqlite")) as rx:
        worker = SyncWorker(store, sync_settings(broker, max_inflight=50))
        with WorkerThread(worker):
            assert wait_until(lambda: rx.receiver.stats.stored >= 300)
            broker.restart()
            assert wait_until(lambda: store.outbox_len() == 0 and rx.receiver.stats.stored >= 3000, 90)
        assert worker.state.connects >= 2 and 0 < rx.receiver.stats.stored
        assert_exactly_once(rx, store, saved)


def test_device_process_killed_mid_publish(broker: Broker, tmp_path: Path) -> None:
    db = tmp_path / "dev.sqlite"
    with ResultStore(db) as store:
        saved = [r.result_id for r in store.save_many([make_exam() for _ in range(3000)])]
    cfg = tmp_path / "device.yaml"
    cfg.write_text(f"sync:\n  port: {broker.port}\n  tls: false\n  clinic_id: clinic-a\n  device_id: dev-1\n"
                   f"  backoff_min_s: 0.1\n  backoff_max_s: 0.5\n  poll_s: 0.1\n  max_inflight: 50\n"
                   f"store:\n  path: {db}\ntelemetry:\n  enabled: false\n")
    cmd = [sys.executable, "-m", "edge", "sync", "--config", str(cfg)]
    with RunningReceiver(broker, str(tmp_path / "rx.sqlite")) as rx:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert wait_until(lambda: rx.receiver.stats.stored >= 300)
        proc.send_signal(signal.SIGKILL)                  # power loss / kill -9 in the middle of the drain
        proc.wait()
        with ResultStore(db) as store:
            left = store.outbox_len()
        assert 0 < left < 3000
        done = subprocess.run(cmd + ["--once", "--timeout", "60", "--json"], cwd=REPO, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert wait_until(lambda: rx.receiver.stats.stored >= 3000)
        with ResultStore(db) as store:
            assert_exactly_once(rx, store, saved)


def test_duplicate_deliveries_are_stored_once(broker: Broker, tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "dev.sqlite")
    saved = [r.result_id for r in store.save_many([make_exam() for _ in range(100)])]
    with RunningReceiver(broker, str(tmp_path / "rx.sqlite")) as rx:
        SyncWorker(store, sync_settings(broker)).run(once=True, timeout_s=60)
        # every PUBACK "lost": the device sends everything again
        store._conn.execute("INSERT INTO outbox (result_id) SELECT result_id FROM results")
        SyncWorker(store, sync_settings(broker)).run(once=True, timeout_s=60)
        # and two more copies of one result, byte-identical to what was stored, straight onto the wire
        assert rx.wait_for(100) == 100
        stored = Database(rx.db.url).query("SELECT payload FROM results WHERE result_id = ?", (saved[0],))[0][0]
        raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        raw.connect("127.0.0.1", broker.port)
        raw.loop_start()
        for _ in range(2):
            raw.publish("fetal-edge/v1/clinic-a/dev-1/results", stored.encode(), qos=1).wait_for_publish(5)
        raw.loop_stop()
        assert wait_until(lambda: rx.receiver.stats.duplicates >= 102)
        assert rx.receiver.stats.duplicates == 102 and rx.receiver.stats.conflicts == 0
        assert_exactly_once(rx, store, saved)


def test_10k_backlog_over_tls_arrives_exactly_once(tls_broker: Broker, certs: Path, tmp_path: Path) -> None:  # noqa: F811
    store = ResultStore(tmp_path / "dev.sqlite")
    saved = [r.result_id for r in store.save_many([make_exam() for _ in range(10000)])]
    with RunningReceiver(tls_broker, str(tmp_path / "rx.sqlite"), certs) as rx:
        state = SyncWorker(store, sync_settings(tls_broker, certs)).run(once=True, timeout_s=120)
        assert state.sent == 10000 and state.refused == 0
        assert wait_until(lambda: rx.receiver.stats.stored >= 10000)
        assert_exactly_once(rx, store, saved)


def test_results_that_cannot_be_sent_as_they_are_stay_on_the_device(broker: Broker, tmp_path: Path) -> None:
    """Saved under other ids (device re-configured) or failing the schema: never sent (the receiver would
    reject them after the broker acknowledged them), never dropped; the rest still drains."""
    store = ResultStore(tmp_path / "dev.sqlite")
    good = [r.result_id for r in store.save_many([make_exam() for _ in range(20)])]
    other = store.save(make_exam("clinic-b", "dev-1")).result_id
    broken = make_exam().to_dict()
    broken["measurements"]["hc"]["unit"] = "cm"
    bad = store.save(broken).result_id
    with RunningReceiver(broker, str(tmp_path / "rx.sqlite")) as rx:
        worker = SyncWorker(store, sync_settings(broker))
        with pytest.raises(SyncError, match="2 results still unsynced"):
            worker.run(once=True, timeout_s=3)
        assert rx.wait_for(20) == 20 and sorted(rx.ids()) == sorted(good)
    assert {i.result_id for i in store.pending()} == {other, bad} and worker.state.held == 2
    assert rx.receiver.stats.rejected == 0


def test_receiver_process_killed_mid_stream(broker: Broker, tmp_path: Path) -> None:
    """The receiver acknowledges only after its batch is committed: kill -9 it mid-stream, start it again,
    and the broker's persistent session redelivers what was not yet stored."""
    db = str(tmp_path / "rx.sqlite")
    cli = [sys.executable, "-m", "receiver.cli"]
    subprocess.run(cli + ["add-device", "clinic-a", "dev-1", "--db", db], check=True, cwd=REPO, capture_output=True)
    serve = cli + ["serve", "--db", db, "--no-tls", "--broker-port", str(broker.port), "--http-port", "0"]

    def count() -> int:
        try:
            return Database(db).query("SELECT COUNT(*) FROM results")[0][0]
        except db_errors():     # the file may be mid-creation by the receiver process
            return 0

    store = ResultStore(tmp_path / "dev.sqlite")
    saved = [r.result_id for r in store.save_many([make_exam() for _ in range(3000)])]
    first = subprocess.Popen(serve, cwd=REPO, stderr=subprocess.DEVNULL)
    worker = SyncWorker(store, sync_settings(broker, max_inflight=50))
    with WorkerThread(worker):
        assert wait_until(lambda: count() >= 300)
        first.send_signal(signal.SIGKILL)
        first.wait()
        at_kill = count()
        second = subprocess.Popen(serve, cwd=REPO, stderr=subprocess.DEVNULL)
        try:
            assert wait_until(lambda: store.outbox_len() == 0 and count() >= 3000, 90)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(10)
    ids = [r[0] for r in Database(db).query("SELECT result_id FROM results")]
    assert at_kill < 3000 and len(ids) == len(set(ids)) == 3000 and set(ids) == set(saved)
