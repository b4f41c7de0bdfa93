"""Issue #27 finding 4, device side: `fetal-edge sync` says how it is doing (progress: published, acknowledged,
left, at an interval and on exit) and `fetal-edge status` tells whether a sync service is running on the store
(heartbeat file: running, stopped, killed, hung). Real mosquitto and the real receiver."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from mqtt_broker import REPO, Broker, RunningReceiver, broker, free_port, make_exam  # noqa: F401

from edge.store import ResultStore

INTERVAL_S = 0.3
PROGRESS = re.compile(r"sync (progress|stopped): (\d+) published, (\d+) acknowledged, (\d+) left in the outbox")


def config(tmp_path: Path, port: int) -> Path:
    cfg = tmp_path / "device.yaml"
    cfg.write_text(f"sync:\n  port: {port}\n  tls: false\n  clinic_id: clinic-a\n  device_id: dev-1\n"
                   f"  backoff_min_s: 0.1\n  backoff_max_s: 0.5\n  poll_s: 0.1\n"
                   f"  progress_interval_s: {INTERVAL_S}\ntelemetry:\n  enabled: false\n"
                   f"store:\n  path: {tmp_path / 'dev.sqlite'}\n", encoding="utf-8")
    with ResultStore(tmp_path / "dev.sqlite") as store:
        store.save_many([make_exam() for _ in range(5)])
    return cfg


def status(cfg: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "edge", "status", "--config", str(cfg), "--json"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)


def start_sync(cfg: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "edge", "sync", "--config", str(cfg)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(check, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_sync_logs_progress_and_status_sees_it_run_and_stop(broker: Broker, tmp_path: Path) -> None:  # noqa: F811
    cfg = config(tmp_path, broker.port)
    assert status(cfg)["sync_heartbeat"]["state"] == "never started"
    with RunningReceiver(broker, str(tmp_path / "rx.sqlite")) as rx:
        proc = start_sync(cfg)
        try:
            assert rx.wait_for(5) == 5
            assert wait_until(lambda: status(cfg)["sync_heartbeat"].get("acknowledged") == 5)
            info = status(cfg)
            assert info["sync_running"] is True and info["sync_heartbeat"]["state"] == "running"
            assert "running (pid" in info["sync_service"] and info["sync_heartbeat"]["left"] == 0
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = PROGRESS.findall(err)
    assert len([x for x in lines if x[0] == "progress"]) >= 2          # at the interval, not only at the end
    assert lines[-1] == ("stopped", "5", "5", "0")                      # and on exit
    after = status(cfg)
    assert after["sync_running"] is False and after["sync_heartbeat"]["state"] == "stopped"


def test_status_tells_a_killed_or_hung_sync_service(tmp_path: Path) -> None:
    cfg = config(tmp_path, free_port())   # no broker: the service runs, not connected
    proc = start_sync(cfg)
    try:
        assert wait_until(lambda: status(cfg)["sync_heartbeat"]["state"] == "running")
        # the first heartbeat can come before the first connection attempt has failed: wait for the reason
        assert wait_until(lambda: "connection refused" in status(cfg)["sync_service"]), status(cfg)["sync_service"]
        assert "NOT connected" in status(cfg)["sync_service"]
        proc.send_signal(signal.SIGSTOP)   # hung: alive, no heartbeat
        assert wait_until(lambda: status(cfg)["sync_heartbeat"]["state"] == "not responding", timeout=20)
        proc.send_signal(signal.SIGCONT)
        assert wait_until(lambda: status(cfg)["sync_heartbeat"]["state"] == "running")
        proc.kill()                        # kill -9: no clean stop written
        proc.wait(10)
        info = status(cfg)
        assert info["sync_running"] is False and info["sync_heartbeat"]["state"] == "not running"
        assert "gone without stopping cleanly" in info["sync_service"]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_progress_says_why_nothing_is_sent(tmp_path: Path) -> None:
    cfg = config(tmp_path, free_port())
    out = subprocess.run([sys.executable, "-m", "edge", "sync", "--config", str(cfg), "--once", "--timeout", "1.5"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 6
    assert re.search(r"sync stopped: 0 published, 0 acknowledged, 5 left in the outbox .*not connected to "
                     r"127\.0\.0\.1:\d+; last error: .*connection refused", out.stderr), out.stderr


def test_a_damaged_heartbeat_file_is_reported_not_raised(tmp_path: Path) -> None:
    cfg = config(tmp_path, free_port())
    (tmp_path / "dev.sqlite.sync-status.json").write_text("{not json", encoding="utf-8")
    info = status(cfg)
    assert info["sync_running"] is False and info["sync_heartbeat"]["state"] == "unknown"
    assert "unreadable" in info["sync_service"]
