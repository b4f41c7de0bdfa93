"""The central side says when it is not working (issue #27): /health and `fetal-receiver status` report broker
connection, subscription, last message time and database reachability, and answer non-ok (HTTP 503, exit 6)
when any is down. A real mosquitto is stopped and started; a real PostgreSQL schema disappears."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
from mqtt_broker import (PG_URL, REPO, Broker, RunningReceiver, broker, make_exam, pg_schema,  # noqa: F401
                         sync_settings, wait_until)

from edge.store import ResultStore
from edge.sync.worker import SyncWorker
from receiver.api import ApiServer, make_app


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def status(db: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "receiver.cli", "status", "--db", db, *extra], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_health_follows_the_broker_down_and_up(broker: Broker, tmp_path: Path) -> None:  # noqa: F811
    url = str(tmp_path / "rx.sqlite")
    with RunningReceiver(broker, url, heartbeat_s=0.2, client_id="rx-health") as rx:
        api = ApiServer(make_app(rx.db.engine, rx.receiver.link), "127.0.0.1", 0).start()
        health = f"http://127.0.0.1:{api.port}/health"
        try:
            code, body = get(health)
            assert code == 200 and body["status"] == "ok" and body["problems"] == []
            assert body["receiver"]["broker_connected"] and body["receiver"]["subscribed"]
            assert body["database"]["ok"] and body["last_message_at"] is None
            store = ResultStore(tmp_path / "dev.sqlite")
            store.save(make_exam())
            SyncWorker(store, sync_settings(broker)).run(once=True, timeout_s=30)
            assert wait_until(lambda: get(health)[1]["last_message_at"] is not None)
            out = status(url)
            assert out.returncode == 0 and "central side: OK" in out.stdout and "connected+subscribed" in out.stdout

            broker.stop()                                   # nothing can be received any more
            assert wait_until(lambda: get(health)[0] == 503, 20)
            code, body = get(health)
            assert body["status"] == "down" and not body["receiver"]["broker_connected"]
            assert any("not connected to the broker" in p for p in body["problems"]), body
            assert body["database"]["ok"] and body["last_message_at"] is not None
            out = status(url, "--json")
            report = json.loads(out.stdout)
            assert out.returncode == 6 and report["status"] == "down"
            assert report["receivers"][0]["client_id"] == "rx-health" and not report["receivers"][0]["broker_connected"]
            assert "NOT connected" in status(url).stdout

            broker.start()                                  # back: reconnected and subscribed again
            assert wait_until(lambda: get(health)[0] == 200, 30)
            assert wait_until(lambda: status(url).returncode == 0, 30)
        finally:
            api.stop()


def test_a_receiver_that_stopped_is_reported_down(broker: Broker, tmp_path: Path) -> None:  # noqa: F811
    url = str(tmp_path / "rx.sqlite")
    assert "no receiver has reported" in status(url).stdout          # a database nobody writes to
    with RunningReceiver(broker, url, heartbeat_s=0.2):
        assert wait_until(lambda: status(url, "--stale-after", "2").returncode == 0)
    time.sleep(2.5)                                                    # its heartbeat grows old
    out = status(url, "--stale-after", "2")
    assert out.returncode == 6 and "NOT RUNNING" in out.stdout and "no heartbeat" in out.stdout
    quiet = status(url, "--quiet-after", "1", "--json")                # and nothing has arrived lately
    assert any("no message received" in p for p in json.loads(quiet.stdout)["problems"])


def test_database_unreachable_is_down(broker: Broker, tmp_path: Path) -> None:  # noqa: F811
    out = status("postgresql://127.0.0.1:1/nowhere")
    assert out.returncode == 6 and "database: UNREACHABLE" in out.stdout and "database unreachable" in out.stdout
    with pg_schema("fetal_health") as schema:
        with RunningReceiver(broker, PG_URL, pg_schema=schema, heartbeat_s=0.2) as rx:
            api = ApiServer(make_app(rx.db.engine, rx.receiver.link), "127.0.0.1", 0).start()
            health = f"http://127.0.0.1:{api.port}/health"
            try:
                assert get(health)[0] == 200
                with psycopg.connect(PG_URL, autocommit=True) as conn:   # the receiver's tables vanish
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                assert wait_until(lambda: get(health)[0] == 503, 20)
                body = get(health)[1]
                assert not body["database"]["ok"] and any("database" in p for p in body["problems"]), body
            finally:
                api.stop()


def test_serve_says_when_its_health_port_is_taken(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "receiver.cli", "serve", "--db", str(tmp_path / "rx.sqlite"),
                              "--no-tls", "--broker-port", "1", "--http-port", str(port)], cwd=REPO,
                             capture_output=True, text=True, timeout=60)
    assert out.returncode == 6 and f"--http-port {port}: cannot listen there" in out.stderr
    assert "Traceback" not in out.stderr


def test_receiver_no_tls_is_explained_in_help_and_docs() -> None:
    """Issue #27 "Documented" (moved here from test_source_options.py: the device venvs have no receiver)."""
    out = subprocess.run([sys.executable, "-m", "receiver.cli", "serve", "--help"], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    serve_help = " ".join(out.stdout.split())
    assert "--no-tls: plain MQTT" in serve_help and "unencrypted" in serve_help
    assert "--no-tls" in (REPO / "docs" / "sync.md").read_text(encoding="utf-8")
