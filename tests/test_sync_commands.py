"""`fetal-edge sync` / `fetal-edge status`, telemetry, and the sync/store/telemetry config sections."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mqtt_broker import REPO, Broker, RunningReceiver, broker, make_exam, sync_settings  # noqa: F401

from edge.config import parse_config
from edge.errors import ConfigError
from edge.manifest import file_entry
from edge.store import ResultStore
from edge.sync.telemetry import collect, model_refs
from edge.sync.worker import SyncWorker
from receiver.db import Database


def device_config(tmp_path: Path, port: int) -> Path:
    cfg = tmp_path / "device.yaml"
    cfg.write_text(f"sync:\n  port: {port}\n  tls: false\n  clinic_id: clinic-a\n  device_id: dev-1\n"
                   f"  backoff_min_s: 0.1\n  backoff_max_s: 0.5\n  poll_s: 0.1\n"
                   f"store:\n  path: {tmp_path / 'dev.sqlite'}\n")
    return cfg


def edge_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_status_reports_outbox_last_sync_and_reachability(broker: Broker, tmp_path: Path) -> None:  # noqa: F811
    cfg = device_config(tmp_path, broker.port)
    with ResultStore(tmp_path / "dev.sqlite") as store:
        store.save_many([make_exam() for _ in range(3)])
    up = edge_cli("status", "--config", str(cfg), "--json")
    info = json.loads(up.stdout)
    assert up.returncode == 0 and info["broker_reachable"] is True
    assert info["outbox_len"] == 3 and info["last_sync_at"] is None
    with RunningReceiver(broker, str(tmp_path / "rx.sqlite")):
        done = edge_cli("sync", "--config", str(cfg), "--once", "--timeout", "30", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sent"] == 3
    broker.stop()
    down = edge_cli("status", "--config", str(cfg), "--json")
    info = json.loads(down.stdout)
    assert down.returncode == 6 and info["broker_reachable"] is False
    assert "connection refused" in info["broker_message"] and info["outbox_len"] == 0
    assert info["last_sync_at"] is not None


def test_sync_once_with_broker_down_exits_6_and_keeps_results(tmp_path: Path) -> None:
    from mqtt_broker import free_port

    cfg = device_config(tmp_path, free_port())
    with ResultStore(tmp_path / "dev.sqlite") as store:
        store.save(make_exam())
    out = edge_cli("sync", "--config", str(cfg), "--once", "--timeout", "1.5")
    assert out.returncode == 6 and "1 results still unsynced" in out.stderr and "they are kept" in out.stderr
    with ResultStore(tmp_path / "dev.sqlite") as store:
        assert store.outbox_len() == 1


def fake_model(root: Path, name: str, version: str) -> Path:
    """A model bundle directory with a valid manifest (the file itself is not run here)."""
    d = root / name
    d.mkdir(parents=True)
    (d / "model.onnx").write_bytes(name.encode() * 50)
    (d / "manifest.json").write_text(json.dumps({
        "format": "fetal-edge-manifest/1", "name": name, "version": version, "task": "biometry",
        "model_file": "model.onnx", "files": {"model.onnx": file_entry(d / "model.onnx")}, "precision": "int8",
        "opset": 17, "input": {"name": "input", "shape": [1, 1, 64, 64], "dtype": "float32"},
        "output": {"name": "logits", "kind": "segmentation_logits", "class_names": ["bg", "head"]},
        "preprocessing": {"size": [64, 64], "resize": "stretch", "interpolation": "area",
                          "normalise": {"mode": "per_image", "scale": 1.0}},
        "calibration": None, "provenance": {}, "metrics": {}}))
    return d


def test_telemetry_reaches_the_receiver(broker: Broker, tmp_path: Path) -> None:  # noqa: F811
    models = tmp_path / "models"
    fake_model(models, "head-seg", "1.2.0")
    tampered = fake_model(models, "planes-student", "1.0.0")
    (tampered / "model.onnx").write_bytes(b"altered")            # fails its checksum: not reported
    store = ResultStore(tmp_path / "dev.sqlite")
    store.save_many([make_exam() for _ in range(2)])
    s = sync_settings(broker)
    with RunningReceiver(broker, str(tmp_path / "rx.sqlite")) as rx:
        worker = SyncWorker(store, s, lambda: collect(store, s, models), telemetry_interval_s=0.2)
        stop = threading.Event()
        t = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        t.start()
        deadline = time.monotonic() + 20
        while rx.receiver.stats.telemetry < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        t.join(10)
        rows = Database(rx.db.url).query("SELECT payload FROM telemetry WHERE device_id = 'dev-1'")
    tel = json.loads(rows[0][0])
    assert tel["last_exam_fps"] == 14.5 and tel["free_disk_mb"] > 0
    assert tel["models"] == model_refs(models) == [{"name": "head-seg", "version": "1.2.0",
                                                    "sha256": file_entry(models / "head-seg/model.onnx")["sha256"]}]
    assert tel["outbox_len"] in (0, 1, 2)


@pytest.mark.parametrize("raw, message", [
    ({"sync": {"clinic_id": "a/b"}}, "sync.clinic_id"),
    ({"sync": {"topic_prefix": "fetal/#"}}, "wildcards"),
    ({"sync": {"backoff_min_s": 10, "backoff_max_s": 1}}, "conflicts with sync.backoff_max_s"),
    ({"sync": {"cert": "a.crt"}}, "cert and sync.key"),
    ({"sync": {"port": 0}}, "sync.port"),
    ({"sync": {"brokr": "x"}}, "unknown key"),
    ({"store": {"keep_synced": -1}}, "store.keep_synced"),
    ({"telemetry": {"interval_s": 0}}, "telemetry.interval_s"),
])
def test_config_sections_name_the_bad_value(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_config_defaults_are_safe() -> None:
    cfg = parse_config({})
    s = cfg.section("sync")
    assert s.tls is True and s.include_patient_ref is False and s.topic("results") == \
        "fetal-edge/v1/clinic-0/device-0/results"
    assert cfg.section("store").min_free_mb > 0


def _cpu_seconds(cmd: list[str], run_for: float | None) -> tuple[float, int, str]:
    """CPU time (user + system) a process used, its exit code and stderr; SIGTERM after run_for seconds."""
    import os
    import signal

    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if run_for is not None:
        time.sleep(run_for)
        proc.send_signal(signal.SIGTERM)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime, proc.returncode, stderr


def test_sync_service_with_broker_down_sleeps_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    from mqtt_broker import free_port

    cfg = device_config(tmp_path, free_port())
    with ResultStore(tmp_path / "dev.sqlite") as store:
        store.save_many([make_exam() for _ in range(5)])
    baseline, _, _ = _cpu_seconds([sys.executable, "-m", "edge", "--version"], None)
    cpu, code, stderr = _cpu_seconds([sys.executable, "-m", "edge", "sync", "--config", str(cfg)], 4.0)
    assert code == 0, stderr
    print(f"CPU: start-up {baseline:.2f} s, sync service 4 s with the broker down {cpu:.2f} s")
    assert cpu - baseline < 1.0          # 4 s of an unreachable broker: sleeping between attempts, not spinning
    assert 1 <= stderr.count("connection refused") <= 3   # said when it changes, not on every attempt
    with ResultStore(tmp_path / "dev.sqlite") as store:
        assert store.outbox_len() == 5
