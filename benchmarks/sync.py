"""Sync benchmark on loopback, in one run: backlog drain rate (plain MQTT vs TLS with client certificates and
the ACL) and end-to-end latency (device save -> row in the receiver's database) for two worker poll intervals.

Everything is real: mosquitto (started here on a free port), the SyncWorker with its SQLite outbox, the
receiver service with its SQLite database.

Run:
    .venv/bin/python benchmarks/sync.py [--backlog 10000] [--samples 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from mqtt_broker import IDENTITIES, Broker, RunningReceiver, make_certs, make_exam, sync_settings  # noqa: E402

from edge.store import ResultStore  # noqa: E402
from edge.sync.worker import SyncWorker  # noqa: E402


def drain(work: Path, certs: Path, tls: bool, n: int) -> dict[str, float]:
    broker = Broker(work / f"broker-{tls}", tls=tls, certs=certs).start()
    try:
        store = ResultStore(work / f"dev-{tls}.sqlite")
        store.save_many([make_exam() for _ in range(n)])
        with RunningReceiver(broker, str(work / f"rx-{tls}.sqlite"), certs) as rx:
            t0 = time.perf_counter()
            state = SyncWorker(store, sync_settings(broker, certs)).run(once=True, timeout_s=600)
            acked = time.perf_counter() - t0
            rx.wait_for(n, 600)
            stored = time.perf_counter() - t0
            ids = rx.ids()
        return {"n": n, "acked_s": acked, "stored_s": stored, "rate": n / acked, "e2e_rate": n / stored,
                "exactly_once": float(len(ids) == len(set(ids)) == n and state.sent == n)}
    finally:
        broker.stop()


def latency(work: Path, certs: Path, poll_s: float, samples: int) -> list[float]:
    broker = Broker(work / f"broker-lat-{poll_s}", tls=True, certs=certs).start()
    try:
        store = ResultStore(work / f"dev-lat-{poll_s}.sqlite")
        out = []
        with RunningReceiver(broker, str(work / f"rx-lat-{poll_s}.sqlite"), certs) as rx:
            worker = SyncWorker(store, sync_settings(broker, certs, poll_s=poll_s))
            stop = threading.Event()
            t = threading.Thread(target=worker.run, args=(stop,), daemon=True)
            t.start()
            for i in range(samples):
                time.sleep(poll_s * 0.37)             # not in phase with the worker's poll
                t0 = time.perf_counter()
                store.save(make_exam())
                rx.wait_for(i + 1, 30)
                out.append((time.perf_counter() - t0) * 1000)
            stop.set()
            t.join(10)
        return out
    finally:
        broker.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backlog", type=int, default=10000)
    ap.add_argument("--samples", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        certs = make_certs(work / "pki", *IDENTITIES)
        rows = [("plain", drain(work, certs, False, args.backlog)), ("TLS+ACL", drain(work, certs, True, args.backlog))]
        print(f"\nBacklog drain, {args.backlog} results, loopback (target >= 500 results/s with TLS)")
        print(f"{'transport':10s} {'acked (s)':>10s} {'results/s':>10s} {'stored (s)':>11s} {'stored/s':>9s} "
              f"{'exactly once':>13s}")
        for name, r in rows:
            print(f"{name:10s} {r['acked_s']:10.2f} {r['rate']:10.0f} {r['stored_s']:11.2f} {r['e2e_rate']:9.0f} "
                  f"{'yes' if r['exactly_once'] else 'NO':>13s}")
        print(f"TLS / plain drain rate: {rows[1][1]['rate'] / rows[0][1]['rate']:.2f}")
        print(f"\nEnd-to-end latency, save -> stored at the receiver, TLS, {args.samples} exams one at a time")
        print(f"{'worker poll_s':>13s} {'median ms':>10s} {'p95 ms':>8s} {'max ms':>8s}")
        for poll in (1.0, 0.1):
            lat = sorted(latency(work, certs, poll, args.samples))
            p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
            print(f"{poll:13.1f} {statistics.median(lat):10.0f} {p95:8.0f} {lat[-1]:8.0f}")


if __name__ == "__main__":
    main()
