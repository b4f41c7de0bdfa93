"""Past one machine (issue #24 item 6): three receiver processes share one MQTT 5 subscription
($share/<group>/...) on a real mosquitto and write to one PostgreSQL. One is killed with SIGKILL in the middle
of a 5,000-result backlog and started again by its "supervisor" with the same client id: every result is
stored exactly once, the device outbox empties. Scaling in (`serve --retire`) leaves nothing behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import paho.mqtt.client as mqtt
from mqtt_broker import (PG_URL, REPO, Broker, RunningReceiver, broker, certs, make_exam, pg_schema,  # noqa: F401
                         sync_settings, tls_broker, wait_until)

from edge.store import ResultStore
from edge.sync.worker import SyncWorker
from receiver.db import Database
from receiver.health import health_report
from receiver.service import Receiver

N = 5000
DEVICES = ("clinic-a/dev-1", "clinic-a/dev-2", "clinic-b/dev-1")


def test_three_receivers_share_the_subscription_and_survive_kill_9(broker: Broker, tmp_path: Path) -> None:  # noqa: F811
    with pg_schema("fetal_scale") as schema:
        db = Database(PG_URL, schema)
        for ident in DEVICES:
            db.register_device(*ident.split("/"))
        serve = [sys.executable, "-m", "receiver.cli", "serve", "--db", PG_URL, "--pg-schema", schema, "--no-tls",
                 "--broker-port", str(broker.port), "--http-port", "0", "--share-group", "rx"]

        def start(i: int) -> subprocess.Popen:
            log = open(tmp_path / f"rx-{i}.log", "ab")
            return subprocess.Popen(serve + ["--client-id", f"rx-{i}"], cwd=REPO, stderr=log, stdout=log)

        def count() -> int:
            return db.query("SELECT COUNT(*) FROM results")[0][0]

        procs = {i: start(i) for i in (1, 2, 3)}
        try:
            assert wait_until(lambda: len([r for r in health_report(db.engine)["receivers"]
                                           if r["subscribed"]]) == 3, 90), health_report(db.engine)
            stores, saved = [], []
            for k, ident in enumerate(DEVICES):
                store = ResultStore(tmp_path / f"dev-{k}.sqlite")
                n = N // len(DEVICES) + (1 if k < N % len(DEVICES) else 0)
                saved += [r.result_id for r in store.save_many([make_exam(*ident.split("/")) for _ in range(n)])]
                stores.append((store, ident))
            stop = threading.Event()
            workers = [threading.Thread(target=SyncWorker(s, sync_settings(broker, ident=ident, max_inflight=200))
                                        .run, args=(stop,), daemon=True) for s, ident in stores]
            for w in workers:
                w.start()
            assert wait_until(lambda: count() >= N // 4, 40)
            procs[2].send_signal(signal.SIGKILL)                    # kill -9 in the middle of the backlog
            procs[2].wait()
            at_kill = count()
            assert wait_until(lambda: count() > at_kill + 200, 20)  # the other two carry on meanwhile
            procs[2] = start(2)                                      # its supervisor starts it again
            drained = wait_until(lambda: count() >= N and all(s.outbox_len() == 0 for s, _ in stores), 120)
            assert drained, (count(), [s.outbox_len() for s, _ in stores], health_report(db.engine))
            stop.set()
            for w in workers:
                w.join(10)
            ids = [r[0] for r in db.query("SELECT result_id FROM results")]
            assert at_kill < N and len(ids) == len(set(ids)) == N and set(ids) == set(saved)   # 0 lost, 0 twice
            assert db.query("SELECT COUNT(*) FROM rejected")[0][0] == 0
            def shared() -> bool:                                     # heartbeats carry each one's count
                report = health_report(db.engine)
                stored = {r["client_id"]: r["stored"] for r in report["receivers"]}
                return report["status"] == "ok" and stored["rx-1"] > 0 and stored["rx-3"] > 0
            assert wait_until(shared, 15), health_report(db.engine)
        finally:
            for p in procs.values():
                p.send_signal(signal.SIGTERM)
            for p in procs.values():
                p.wait(15)
            db.close()
        assert all(p.returncode == 0 for p in procs.values())


def test_shared_subscription_under_tls_and_the_acl(tls_broker: Broker, certs: Path, tmp_path: Path) -> None:  # noqa: F811
    """The broker ACL of docs/sync.md (`topic read fetal-edge/v1/#` for the receiver) allows the shared
    subscription $share/<group>/fetal-edge/v1/...: no extra ACL line is needed."""
    store = ResultStore(tmp_path / "dev.sqlite")
    saved = [r.result_id for r in store.save_many([make_exam() for _ in range(20)])]
    with RunningReceiver(tls_broker, str(tmp_path / "rx.sqlite"), certs, share_group="rx",
                         client_id="rx-tls-1") as rx:
        assert rx.receiver.link.subscribed
        SyncWorker(store, sync_settings(tls_broker, certs)).run(once=True, timeout_s=30)
        assert rx.wait_for(20) == 20 and sorted(rx.ids()) == sorted(saved)


def test_a_receiver_retired_for_good_leaves_nothing_behind(broker: Broker, tmp_path: Path) -> None:  # noqa: F811
    """Scaling in: a stopped member's share waits in its session; `serve --retire` stores that share,
    leaves the group and deletes the session, so everything published afterwards goes to the others."""
    url = str(tmp_path / "rx.sqlite")
    store = ResultStore(tmp_path / "dev.sqlite")
    first = [r.result_id for r in store.save_many([make_exam() for _ in range(60)])]
    with RunningReceiver(broker, url, share_group="g", client_id="rx-b"):
        pass                                                     # rx-b joined the group, then stopped
    with RunningReceiver(broker, url, share_group="g", client_id="rx-a") as a:
        SyncWorker(store, sync_settings(broker)).run(once=True, timeout_s=30)
        assert wait_until(lambda: a.receiver.stats.stored > 0, 10)
        time.sleep(0.5)
        assert 0 < a.receiver.stats.stored < 60                  # the rest is queued for the stopped rx-b
        b = Receiver(a.db, replace(a.settings, client_id="rx-b"))
        b.retire()                                               # returns when rx-b's share is stored
        assert a.receiver.stats.stored + b.stats.stored == 60 and sorted(a.ids()) == sorted(first)
        later = [r.result_id for r in store.save_many([make_exam() for _ in range(40)])]
        SyncWorker(store, sync_settings(broker)).run(once=True, timeout_s=30)
        assert wait_until(lambda: len(a.ids()) == 100, 20)       # all of them to rx-a: rx-b is gone
        assert sorted(a.ids()) == sorted(first + later)
    probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rx-b", protocol=mqtt.MQTTv5)
    present = []
    probe.on_connect = lambda c, u, flags, rc, p: present.append(flags.session_present)
    probe.connect("127.0.0.1", broker.port, clean_start=False)
    probe.loop_start()
    assert wait_until(lambda: present, 10) and present == [False]     # the broker kept no session for rx-b
    probe.loop_stop()
    probe.disconnect()
