"""Dashboard page timing (issue #24 item 7, pages): p50/p95 of the overview, alerts and exam pages (and the
other lists) on a PostgreSQL database of 1,000,000 generated results from 200 clinics and 1,000 devices.
Goal: p95 <= 300 ms on this machine for overview, alerts and exam. The ingest half is benchmarks/dashboard.py.

    python benchmarks/dashboard_pages.py                       # seeds schema bench_dashboard once (slow), then times
    python benchmarks/dashboard_pages.py --n 100000 --schema bench_small --repeat 20

Requests go through the whole app in-process (routing, login cookie, SQL, Jinja2 rendering; no network), as a
programme user (every clinic) and as a clinic user (one clinic). Prints a markdown table."""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from receiver import users  # noqa: E402
from receiver.database import open_engine, sessions  # noqa: E402
from receiver.models import Clinic, Result  # noqa: E402
from receiver.seed import seed_database  # noqa: E402
from receiver.web.app import create_app  # noqa: E402
from receiver.web.settings import WebSettings  # noqa: E402

GOAL_MS = 300.0
PASSWORD = "benchmark-password"


def seeded(url: str, schema: str, n: int, clinics: int, devices: int):
    engine = open_engine(url, schema)
    with sessions(engine)() as db:
        have = db.scalar(select(func.count()).select_from(Result)) or 0
    if have == 0:
        t = time.perf_counter()
        seed_database(engine, n, clinics, devices)
        print(f"seeded {n:,} results into {schema} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    elif have < n:
        print(f"warning: {schema} holds {have:,} results (< {n:,}); drop the schema to reseed", file=sys.stderr)
    if engine.dialect.name == "postgresql":      # as autovacuum leaves a steady database: statistics, visibility
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("results", "alerts", "devices", "telemetry", "telemetry_history", "clinics"):
                conn.execute(text(f"VACUUM ANALYZE {table}"))
    return engine


def client(engine, name: str, role: str, clinics: list[str]) -> TestClient:
    with sessions(engine)() as db:
        if users.find(db, name) is None:
            users.add_user(db, name, PASSWORD, role, clinics)
            db.commit()
    c = TestClient(create_app(WebSettings(login_free_failures=1000), engine))
    page = c.get("/login").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    r = c.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    return c


def timed(c: TestClient, paths: list[str], repeat: int) -> tuple[float, float, int]:
    c.get(paths[0])                                          # warm-up (plans, template cache)
    times, size = [], 0
    for i in range(repeat):
        path = paths[i % len(paths)]
        t = time.perf_counter()
        r = c.get(path)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        size = len(r.content)
    times.sort()
    return statistics.median(times), times[max(0, int(round(0.95 * len(times))) - 1)], size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="postgresql://127.0.0.1:5432/test")
    ap.add_argument("--schema", default="bench_dashboard")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--clinics", type=int, default=200)
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    engine = seeded(args.db, args.schema, args.n, args.clinics, args.devices)
    rng = random.Random(7)
    with sessions(engine)() as db:
        total = db.scalar(select(func.count()).select_from(Result))
        clinic, district = db.execute(select(Clinic.clinic_id, Clinic.district).order_by(Clinic.clinic_id)).first()
        sample = [rid for (rid,) in db.execute(select(Result.result_id).where(Result.clinic_id == clinic)
                                               .order_by(Result.result_id).limit(2000))]
        exams = rng.sample(sample, min(args.repeat, len(sample)))
    prog = client(engine, "bench-programme", "programme", [])
    nurse = client(engine, "bench-clinic", "clinic", [clinic])
    cases = [
        ("overview (8 weeks, every clinic)", prog, ["/"]),
        (f"overview, district {district}", prog, [f"/?district={district}"]),
        ("overview, clinic user", nurse, ["/"]),
        ("alerts, open, page 1", prog, ["/alerts"]),
        ("alerts, open, page 50", prog, ["/alerts?page=50"]),
        ("alerts, clinic user", nurse, ["/alerts"]),
        ("exam page (random exams)", prog, [f"/exams/{rid}" for rid in exams]),
        ("exam page, clinic user", nurse, [f"/exams/{rid}" for rid in exams]),
        ("exams list, page 1", prog, ["/exams"]),
        ("devices, page 1", prog, ["/devices"]),
        ("clinics, page 1", prog, ["/clinics"]),
        ("API exams, page 1", prog, ["/api/v1/exams"]),
    ]
    print(f"\n{total:,} results, {args.clinics} clinics, {args.devices} devices ({engine.dialect.name}, "
          f"schema {args.schema}); {args.repeat} requests each, in-process\n")
    print("| page | p50 ms | p95 ms | bytes | goal p95 <= 300 ms |")
    print("|---|---|---|---|---|")
    for label, c, paths in cases:
        p50, p95, size = timed(c, paths, args.repeat)
        goal = ("met" if p95 <= GOAL_MS else "NOT met") if label.startswith(("overview", "alerts", "exam page")) \
            else ""
        print(f"| {label} | {p50:.0f} | {p95:.0f} | {size:,} | {goal} |", flush=True)


if __name__ == "__main__":
    main()
