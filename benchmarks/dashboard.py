"""Receiver ingest rate into PostgreSQL with 1 and 3 receivers sharing one MQTT 5 subscription (issue #24 item 7,
ingest half; the page timing half is benchmarks/dashboard_pages.py). Goal: >= 2,000 results/s with 3 receivers.

Everything is real: mosquitto (started here on a free port), `fetal-receiver serve` processes, PostgreSQL.
The backlog is realistic schema-1.1 payloads (receiver.seed) from 1,000 registered devices, queued at the broker
while the receivers are stopped (their persistent sessions exist), so the rate is the receivers' own: from the
first stored result to the last (also from process start, which includes start-up).

CPU per component, from /proc (user + system), from the first stored batch to the last (no start-up work),
per result stored in that time, as CPU seconds per 1,000 results (= ms per result): the receiver processes
(sum), the mosquitto started here, and every `postgres` process on the machine (backends, walwriter,
checkpointer, ...: the receivers' sessions, this script's own count polling, and any other session's work
during the run; a backend that exits during the run is missed). The ceiling is cores / CPU seconds per result: the rate this path would reach with the whole
machine to itself, if CPU were the only limit. It is an estimate, not a measurement; on a busy machine it is
the figure to judge the goal by, and the wall-clock rate is what this machine gave while busy.

    python benchmarks/dashboard.py [--n 20000] [--receivers 1 3] [--db postgresql://127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

import paho.mqtt.client as mqtt  # noqa: E402
from mqtt_broker import Broker  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from edge.sync.payload import encode  # noqa: E402
from receiver.db import Database  # noqa: E402
from receiver.health import health_report  # noqa: E402
from receiver.models import Result  # noqa: E402
from receiver.seed import generate, make_world  # noqa: E402

GOAL = 2000.0
TOPIC = "fetal-edge/v1/{clinic_id}/{device_id}/results"


def backlog(n: int, clinics: int, devices: int) -> tuple[list[tuple[str, bytes]], list[tuple[str, str]]]:
    """n (topic, message) of generated results and the (clinic, device) pairs they come from."""
    rng = random.Random(7)
    world = make_world(rng, clinics, devices, datetime.now(timezone.utc), 26)
    messages = [(TOPIC.format(**p), encode(p)) for p in generate(rng, world, n, patient_refs=False)]
    return messages, [(d["clinic_id"], d["device_id"]) for d in world.devices]


def publish(port: int, messages: list[tuple[str, bytes]]) -> float:
    """QoS 1 with up to 1,000 in flight; seconds until the broker acknowledged every message."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    t0 = time.perf_counter()
    infos = [client.publish(topic, raw, qos=1) for topic, raw in messages]
    for info in infos:
        info.wait_for_publish(120)
    took = time.perf_counter() - t0
    client.loop_stop()
    client.disconnect()
    return took


def serve_cmd(url: str, schema: str, port: int, i: int) -> list[str]:
    return [sys.executable, "-m", "receiver.cli", "serve", "--db", url, "--pg-schema", schema, "--no-tls",
            "--broker-port", str(port), "--http-port", "0", "--share-group", "bench", "--client-id", f"rx-{i}"]


def start(cmds: list[list[str]], log: Path) -> list[subprocess.Popen]:
    out = open(log, "ab")
    return [subprocess.Popen(c, cwd=REPO, stdout=out, stderr=out) for c in cmds]


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(30)


def cpu_of(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by running processes (Linux /proc)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def postgres_cpu() -> dict[int, float]:
    """CPU seconds so far of every process named postgres (server, backends, background workers)."""
    pids = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and (d / "comm").read_text().strip() == "postgres":
                pids.append(int(d.name))
        except OSError:
            continue
    return {pid: cpu_of([pid]) for pid in pids}


def postgres_delta(before: dict[int, float]) -> float:
    """CPU seconds the postgres processes used since `before` (a process started since counts whole)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in postgres_cpu().items())


def wait(cond, timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(every)


def run(url: str, receivers: int, messages: list[tuple[str, bytes]], pairs: list[tuple[str, str]],
        work: Path) -> dict[str, float]:
    schema = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    db = Database(url, schema)
    broker = Broker(work / f"broker-{receivers}").start()
    procs: list[subprocess.Popen] = []
    try:
        for clinic, device in pairs:
            db.register_device(clinic, device)
        cmds = [serve_cmd(url, schema, broker.port, i) for i in range(1, receivers + 1)]
        procs = start(cmds, work / f"rx-{receivers}.log")          # once: the broker learns their sessions
        wait(lambda: sum(r["subscribed"] for r in health_report(db.engine)["receivers"]) == receivers, 300,
             "receivers to subscribe")
        stop(procs)
        published = publish(broker.port, messages)                 # queued in the stopped receivers' sessions
        t0 = time.perf_counter()
        procs = start(cmds, work / f"rx-{receivers}.log")
        n = len(messages)

        def count() -> int:
            with db.session() as s:
                return s.scalar(select(func.count()).select_from(Result))

        wait(lambda: count() > 0, 300, "the first result")
        rx_pids = [p.pid for p in procs]
        pg_cpu0, rx_cpu0 = postgres_cpu(), cpu_of(rx_pids)        # from here on: no start-up work
        broker_cpu0 = cpu_of([broker.proc.pid])
        done0 = count()                  # after the snapshot: the CPU is divided by at most what it stored
        wait(lambda: count() >= n, 600, f"{n} results", every=0.5)
        wall = time.perf_counter() - t0
        pg_cpu, rx_cpu = postgres_delta(pg_cpu0), cpu_of(rx_pids) - rx_cpu0
        broker_cpu = cpu_of([broker.proc.pid]) - broker_cpu0
        load = os.getloadavg()[0]
        stop(procs)
        with db.engine.connect() as conn:
            first, last, stored, distinct = conn.execute(text(
                "SELECT MIN(received_at), MAX(received_at), COUNT(*), COUNT(DISTINCT result_id) FROM results")).one()
        span = (last - first).total_seconds()
        return {"receivers": receivers, "n": n, "publish_s": published, "span_s": span, "wall_s": wall,
                "rate": n / span, "rate_wall": n / wall, "exactly_once": float(stored == distinct == n),
                "rx_ms": 1000 * rx_cpu / (n - done0), "broker_ms": 1000 * broker_cpu / (n - done0),
                "pg_ms": 1000 * pg_cpu / (n - done0),
                "load": load}
    finally:
        for p in procs:                   # a run that failed leaves no receiver behind
            if p.poll() is None:
                p.kill()
                p.wait(30)
        broker.stop()
        with db.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        db.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="backlog size per run")
    ap.add_argument("--receivers", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--db", default="postgresql://127.0.0.1:5432/test")
    ap.add_argument("--clinics", type=int, default=200)
    ap.add_argument("--devices", type=int, default=1000)
    args = ap.parse_args()
    load = os.getloadavg()
    messages, pairs = backlog(args.n, args.clinics, args.devices)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.receivers:
            rows.append(run(args.db, k, messages, pairs, Path(tmp)))
            print(f"{k} receiver(s): {rows[-1]['rate']:.0f} results/s", file=sys.stderr)
    base, cores = rows[0]["rate"], os.cpu_count() or 1
    print(f"\nReceiver ingest into PostgreSQL, {args.n:,} queued schema-1.1 results from {args.devices:,} devices "
          f"({datetime.now(timezone.utc):%Y-%m-%d})\n")
    print(f"load average before the runs: {load[0]:.1f} on {cores} cores (a busy machine is slower; CPU per result "
          f"is the steadier figure)\n")
    print("| receivers | results/s (first to last stored) | results/s (incl. start-up) | x 1 receiver | "
          "CPU s per 1,000 results: receivers + broker + PostgreSQL = total | "
          f"CPU-bound ceiling, results/s ({cores} cores) | load at end | exactly once | goal (wall / ceiling) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        total = r["rx_ms"] + r["broker_ms"] + r["pg_ms"]
        ceiling = cores * 1000 / total
        goal = (f">= {GOAL:,.0f}: {'met' if r['rate'] >= GOAL else 'NOT met'} / "
                f"{'met' if ceiling >= GOAL else 'NOT met'}") if r["receivers"] == 3 else ""
        print(f"| {r['receivers']} | {r['rate']:,.0f} | {r['rate_wall']:,.0f} | {r['rate'] / base:.2f} | "
              f"{r['rx_ms']:.2f} + {r['broker_ms']:.2f} + {r['pg_ms']:.2f} = {total:.2f} | {ceiling:,.0f} | "
              f"{r['load']:.1f} | {'yes' if r['exactly_once'] else 'NO'} | {goal} |")


if __name__ == "__main__":
    main()
