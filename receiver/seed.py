"""Realistic generated results, written straight into the receiver database in bulk: for the demo
(`fetal-receiver seed 2000 --db demo.sqlite`) and the dashboard benchmark (1,000,000 results, 200 clinics,
1,000 devices on PostgreSQL).

Every exam is a schema-1.1 payload as a device would send it (the receiver's typed columns and alerts come from
the same extraction as live traffic): a pregnancy with an established GA (LMP, EDD or dating scan) or none,
head biometry by the model, AC/FL from the sonographer's calipers in some exams, centiles and alerts from the
INTERGROWTH-21st standards and the default alert rules of edge.clinical (a few growth-restricted fetuses,
some low-quality or implausible measurements), reviews and corrections that supersede, acknowledged alerts,
plane summaries with a few drifting devices, telemetry history. Pregnancies are linked by `patient_ref` when
`patient_refs=True` (the dashboard shows growth over visits only then).
"""

from __future__ import annotations

import multiprocessing
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from edge.clinical.alerts import DEFAULT_RULES, evaluate
from edge.clinical.standards import BY_QUANTITY, centile_of, value_at, z_score
from edge.results import Measurement
from edge.sync.payload import QUANTITIES
from receiver.extract import alert_rows, result_columns, telemetry_columns, with_alerts
from receiver.models import Alert, Clinic, Device, Result, Telemetry, TelemetryHistory

PLACES = ("Amani", "Baraka", "Chanzo", "Dalili", "Elimu", "Faraja", "Giza", "Hekima", "Imani", "Jua", "Kilima",
          "Lango", "Mvua", "Nuru", "Omba", "Pwani", "Rafiki", "Subira", "Tumaini", "Umoja", "Vuli", "Wema",
          "Yombo", "Zawadi")
KINDS = ("Health Centre", "Dispensary", "Maternity Unit", "Sub-County Hospital", "Clinic")
DISTRICTS = tuple(f"{p} District" for p in PLACES[:20])
MODELS = [{"name": "head-seg", "version": "1.2.0", "sha256": "3f" * 32},
          {"name": "plane-cls", "version": "1.3.0", "sha256": "a1" * 32}]
HEAD = ("hc", "bpd", "ofd")          # measured by the head model; the rest by hand or by formula
REVIEWERS = ("sonographer-amina", "sonographer-joseph", "midwife-grace", "dr-otieno")


@dataclass(frozen=True)
class World:
    clinics: list[dict[str, Any]]
    devices: list[dict[str, Any]]
    now: datetime
    weeks: int
    drifting: frozenset[str]          # device ids with one week of many "unknown" frames


def make_world(rng: random.Random, clinics: int, devices: int, now: datetime, weeks: int) -> World:
    cl = [{"clinic_id": f"clinic-{i + 1:03d}",
           "name": f"{PLACES[i % len(PLACES)]} {KINDS[(i // len(PLACES)) % len(KINDS)]}" + (
               f" {i // (len(PLACES) * len(KINDS)) + 1}" if i >= len(PLACES) * len(KINDS) else ""),
           "district": DISTRICTS[i % len(DISTRICTS)], "created_at": now - timedelta(weeks=weeks + 4)}
          for i in range(clinics)]
    dv = []
    for j in range(devices):
        stale = rng.random() < 0.05
        dv.append({"clinic_id": cl[j % clinics]["clinic_id"], "device_id": f"dev-{j + 1:04d}",
                   "registered_at": now - timedelta(weeks=weeks + 2, hours=j % 48),
                   "last_seen_at": now - timedelta(days=rng.uniform(10, 40) if stale else rng.uniform(0, 1.5))})
    drifting = frozenset(d["device_id"] for d in rng.sample(dv, max(1, devices // 50)))
    return World(cl, dv, now, weeks, drifting)


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ga_text(days: float) -> str:
    d = int(round(days))
    return f"{d // 7}w{d % 7}d"


def _measure(name: str, value: float | None, flag: str, established: float | None, source: str,
             method: str) -> Measurement:
    """One measurement with its centile at the established GA (none without one, or outside the range)."""
    std = BY_QUANTITY.get(name)
    centile = z = why = None
    if value is not None and std is not None:
        if established is None or not std.covers(established):
            why = "no established GA: size for GA cannot be judged" if established is None else \
                f"GA outside {std.label}'s range {std.range_text()}"
        else:
            z = round(z_score(std, value, established), 2)
            centile = round(centile_of(z), 1)
    return Measurement(name, value, QUANTITIES[name][0], 0.9 if flag == "ok" else 0.4, flag, None, method,
                       None if flag == "ok" else _REASONS[flag], 5 if name in HEAD else 0, centile, z,
                       None if value is None or std is None else std.label, why, source)


_REASONS = {"low_quality": "ellipse fit quality 0.41 below 0.6 in 3 of 5 frames",
            "implausible": "HC/BPD ratio outside 2.9-3.9 (Hadlock 1982): check the pixel size",
            "no_measurement": "no head plane seen long enough"}


def _pregnancy(rng: random.Random, started: datetime, ga: float) -> tuple[dict[str, Any], float | None]:
    basis = rng.choices(("lmp", "edd", "dating_scan", None), (40, 20, 15, 25))[0]
    conception_edd = (started + timedelta(days=280 - ga)).date()
    preg = {"plurality": "singleton", "basis": basis, "lmp": None, "edd": None, "dating_scan": None}
    if basis == "lmp":
        preg["lmp"] = (started - timedelta(days=ga)).date().isoformat()
    elif basis == "edd":
        preg["edd"] = conception_edd.isoformat()
    elif basis == "dating_scan":
        preg["dating_scan"] = {"ga_days": 84, "on": (started - timedelta(days=ga - 84)).date().isoformat()}
    return preg, None if basis is None else float(round(ga))


def exam_payload(rng: random.Random, world: World, device: dict[str, Any], started: datetime,
                 ga: float, z: float) -> dict[str, Any]:
    """One schema-1.1 result payload of a fetus at true GA `ga` (days) and size z-score `z`."""
    preg, established = _pregnancy(rng, started, ga)
    meas: dict[str, Measurement] = {}
    quality = rng.random()
    for name in HEAD:
        value = round(value_at(BY_QUANTITY[name], z + rng.gauss(0, 0.25), ga), 1)
        flag = "ok" if quality > 0.07 else "low_quality" if quality > 0.02 else "implausible"
        if name == "hc" and quality < 0.01:
            value, flag = None, "no_measurement"
        meas[name] = _measure(name, value, flag, established, "model", "ellipse_fit")
    manual = rng.random() < 0.35
    for name in ("ac", "fl"):
        value = round(value_at(BY_QUANTITY[name], z + rng.gauss(0, 0.3), ga), 1) if manual else None
        meas[name] = _measure(name, value, "ok" if manual else "no_measurement", established, "manual",
                              "sonographer caliper" if manual else None)
    efw = round(value_at(BY_QUANTITY["efw"], z + rng.gauss(0, 0.2), max(ga, 154)), 0) if manual else None
    meas["efw"] = _measure("efw", efw, "ok" if manual else "no_measurement", established, "model",
                           "intergrowth21_hc_ac" if manual else None)
    bio_ga = round(ga + rng.gauss(0, 5) - 12 * min(0.0, z + 1.5), 1) if meas["hc"].value is not None else None
    meas["ga"] = Measurement("ga", bio_ga, "d", 0.9 if bio_ga else 0.0, "ok" if bio_ga else "no_measurement", None,
                             "best_ga")
    alerts = evaluate(DEFAULT_RULES, meas, meas["ga"], established)
    ga_days = established if established is not None else bio_ga
    frames = rng.randint(120, 900)
    unknown_share = rng.uniform(0.01, 0.08) + (0.3 if device["device_id"] in world.drifting and
                                                (world.now - started).days < 7 else 0.0)
    saved = started + timedelta(minutes=rng.uniform(4, 12))
    return {
        "format": "fetal-edge-result/1", "result_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "schema_version": "1.1", "clinic_id": device["clinic_id"], "device_id": device["device_id"],
        "started_at": _iso(started), "ended_at": _iso(saved - timedelta(seconds=30)), "saved_at": _iso(saved),
        "status": "complete" if rng.random() > 0.03 else "partial", "models": MODELS,
        "planes_seen": {"Fetal brain": frames // 3, "Fetal abdomen": frames // 4, "Other": frames // 3,
                        "unknown": int(frames * unknown_share)},
        "measurements": {k: _meas_json(m) for k, m in meas.items()},
        "plausibility": [{"check": "hc_vs_bpd_ofd", "value": 0.98 if quality > 0.02 else 1.31, "range": [0.9, 1.1],
                          "ok": quality > 0.02, "source": "Hadlock 1982"}],
        "frames": frames, "frames_dropped": rng.randint(0, 5), "fps": round(rng.uniform(11, 16), 1),
        "pregnancy": preg,
        "dating": {"ga_days": ga_days, "ga_text": None if ga_days is None else _ga_text(ga_days),
                   "precision_days": None if established is not None else (7 if bio_ga else None),
                   "edd": None if ga_days is None else (started + timedelta(days=280 - ga_days)).date().isoformat(),
                   "source": "established" if established is not None else ("biometry" if bio_ga else None),
                   "method": None if established is not None else ("best_ga" if bio_ga else None)},
        "alerts": alerts, "review": {"state": "unreviewed", "by": None, "at": None, "note": None},
        "supersedes": None, "exam_flags": [],
        "plane_summary": {"frames_classified": frames, "unknown_frames": int(frames * unknown_share),
                          "mean_confidence": round(rng.uniform(0.84, 0.95) - unknown_share / 2, 3)},
    }


_MEAS_KEYS = ("value", "unit", "quality", "flag", "method", "reason", "n_frames", "centile", "z", "standard",
              "centile_reason", "source")


def _meas_json(m: Measurement) -> dict[str, Any]:
    d = {k: getattr(m, k) for k in _MEAS_KEYS}
    d["loinc"] = QUANTITIES[m.name][1]
    d["model"] = MODELS[0] if m.name in HEAD and m.source == "model" and m.value is not None else None
    return d


def review_of(rng: random.Random, p: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """A trained person's review of `p`: a new result that supersedes it (accepted, or HC corrected); None
    when `p` is too recent to have been reviewed by `now`."""
    saved = datetime.fromisoformat(p["saved_at"].replace("Z", "+00:00"))
    at = min(saved + timedelta(hours=rng.uniform(1, 48)), now - timedelta(minutes=1))
    if at <= saved:
        return None
    q = {**p, "result_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "supersedes": p["result_id"]}
    q["saved_at"] = _iso(at + timedelta(seconds=5))
    corrected = rng.random() < 0.3 and p["measurements"]["hc"]["value"] is not None
    state = "corrected" if corrected else "accepted"
    q["review"] = {"state": state, "by": rng.choice(REVIEWERS), "at": _iso(at),
                   "note": "HC re-measured on the best frame" if corrected else None}
    if corrected:
        established = p["dating"]["ga_days"] if p["dating"]["source"] == "established" else None
        hc = _measure("hc", round(p["measurements"]["hc"]["value"] * 1.03, 1), "ok", established, "manual",
                      "sonographer caliper")
        q["measurements"] = {**p["measurements"], "hc": _meas_json(hc)}
        q["alerts"] = [a for a in p["alerts"] if a["measurement"] != "hc"] + [
            a for a in evaluate(DEFAULT_RULES, {"hc": hc}, None, established) if a["measurement"] == "hc"]
    return q


def _visits(rng: random.Random, world: World, n_left: int) -> Iterator[tuple[datetime, float]]:
    """(exam time, true GA in days) of one pregnancy's visits, inside the seeded window."""
    start, end = world.now - timedelta(weeks=world.weeks), world.now - timedelta(hours=1)
    when = start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds()))
    ga = rng.uniform(98, 230)
    for _ in range(min(n_left, rng.choices((1, 2, 3, 4), (45, 30, 15, 10))[0])):
        when = when.replace(hour=rng.randint(7, 16))
        if when >= end or ga > 280:
            return
        yield when, ga
        step = rng.uniform(21, 42)
        when, ga = when + timedelta(days=step), ga + step


def generate(rng: random.Random, world: World, n: int, patient_refs: bool) -> Iterator[dict[str, Any]]:
    """n result payloads (reviews included), pregnancy by pregnancy."""
    made, serial = 0, 0
    while made < n:
        device = rng.choice(world.devices)
        z = rng.choices((rng.gauss(0, 1), rng.gauss(-2.4, 0.4), rng.gauss(2.2, 0.3)), (95, 3, 2))[0]
        serial += 1
        ref = f"ANC-{device['clinic_id'][-3:]}-{serial:07d}" if patient_refs else None
        for started, ga in _visits(rng, world, n - made):
            if made >= n:
                return
            p = exam_payload(rng, world, device, started, ga, z)
            if ref:
                p["patient_ref"] = ref
            yield p
            made += 1
            review = review_of(rng, p, world.now) if made < n and rng.random() < 0.15 else None
            if review is not None:
                yield review
                made += 1


def _received(p: dict[str, Any], rng: random.Random, now: datetime) -> datetime:
    """Most results arrive within seconds; some after days offline (never after `now`)."""
    saved = datetime.fromisoformat(p["saved_at"].replace("Z", "+00:00"))
    return min(now, saved + timedelta(seconds=rng.choice((rng.uniform(0.2, 5), rng.uniform(60, 3 * 86400)))))


def _copy(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    """Bulk insert: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(model.__table__), rows)      # Core executemany (no ORM bookkeeping)
        return
    cols = list(rows[0])
    cursor = session.connection().connection.cursor()
    with cursor.copy(f"COPY {model.__tablename__} ({', '.join(cols)}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row(tuple(r[c] for c in cols))


def _acknowledge(rng: random.Random, alerts: list[dict[str, Any]], now: datetime) -> None:
    for a in alerts:
        a.update(ack_by=None, ack_at=None, ack_note=None)
        if (now - a["started_at"]).days > 14 and rng.random() < 0.6:
            a.update(ack_by=rng.choice(REVIEWERS), ack_at=a["created_at"] + timedelta(days=rng.uniform(0.1, 5)),
                     ack_note="Referred to the district hospital; appointment booked.")


def _write_results(session: Session, rng: random.Random, world: World, n: int, patient_refs: bool,
                   chunk: int) -> int:
    rows: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    written = 0
    for p in generate(rng, world, n, patient_refs):
        received = _received(p, rng, world.now)
        found = alert_rows(p, received)
        rows.append(with_alerts(result_columns(p, received), found))
        alerts += found
        if p["supersedes"]:
            _mark_superseded(rows, p["supersedes"])
        if len(rows) >= chunk:
            written += _flush(session, rng, world, rows, alerts)
            rows, alerts = [], []
    return written + _flush(session, rng, world, rows, alerts)


def _mark_superseded(rows: list[dict[str, Any]], rid: str) -> None:
    for r in reversed(rows[-50:]):       # a review follows its exam closely in generation order
        if r["result_id"] == rid:
            r["is_latest"] = False
            return


def _flush(session: Session, rng: random.Random, world: World, rows: list[dict[str, Any]],
           alerts: list[dict[str, Any]]) -> int:
    _acknowledge(rng, alerts, world.now)
    _copy(session, Result, rows)
    _copy(session, Alert, alerts)
    session.commit()
    return len(rows)


def _telemetry(rng: random.Random, world: World, days: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    history, latest = [], []
    for d in world.devices:
        last = None
        for k in range(days, -1, -1):
            at = d["last_seen_at"] - timedelta(days=k, minutes=rng.uniform(0, 60))
            t = {"format": "fetal-edge-telemetry/1", "clinic_id": d["clinic_id"], "device_id": d["device_id"],
                 "at": _iso(at), "free_disk_mb": round(rng.uniform(800, 20000) if rng.random() > 0.02 else 150, 1),
                 "outbox_len": rng.choice((0, 0, 0, 1, 2, rng.randint(3, 400))), "models": MODELS,
                 "last_exam_fps": round(rng.uniform(11, 16), 1), "last_sync_at": _iso(at - timedelta(minutes=3)),
                 "store_warning": None}
            last = telemetry_columns(t, min(world.now, at + timedelta(seconds=1)))
            history.append(last)
        latest.append(last)
    return latest, history


def _worker(engine: Engine, world: World, n: int, seed: int, patient_refs: bool, chunk: int, done: Any) -> None:
    engine.dispose(close=False)          # a forked process opens its own connections
    with Session(engine) as s:
        done.put(_write_results(s, random.Random(seed), world, n, patient_refs, chunk))


def seed_database(engine: Engine, n: int, clinics: int = 200, devices: int = 1000, seed: int = 24,
                  weeks: int = 26, telemetry_days: int = 28, patient_refs: bool = False,
                  now: datetime | None = None, chunk: int = 5000, workers: int = 1) -> int:
    """Write `n` generated results (and the clinics, devices and telemetry they need) into a migrated
    database; returns how many results were written. Deterministic for a given seed, `now` and `workers`
    (workers > 1: that many forked processes generate and write slices at the same time; PostgreSQL)."""
    if n < 0 or clinics < 1 or devices < clinics or workers < 1:
        raise ValueError(f"seed: n={n} clinics={clinics} devices={devices} workers={workers}: need n >= 0, "
                         f"clinics >= 1, devices >= clinics, workers >= 1")
    rng = random.Random(seed)
    world = make_world(rng, clinics, devices, now or datetime.now(timezone.utc), weeks)
    with Session(engine) as s:
        existing = s.scalar(select(func.count()).select_from(Clinic))
        if existing:
            raise ValueError(f"seed writes into an empty database; this one already has {existing} clinics "
                             f"(use a new --db)")
        _copy(s, Clinic, world.clinics)
        _copy(s, Device, world.devices)
        latest, history = _telemetry(rng, world, telemetry_days)
        _copy(s, Telemetry, latest)
        for i in range(0, len(history), chunk):
            _copy(s, TelemetryHistory, history[i:i + chunk])
        s.commit()
        if workers == 1:
            return _write_results(s, rng, world, n, patient_refs, chunk)
    ctx = multiprocessing.get_context("fork")       # the children inherit engine and world as they are
    done = ctx.SimpleQueue()
    procs = [ctx.Process(target=_worker, args=(engine, world, n // workers + (1 if k < n % workers else 0),
                                               seed * 1000 + k, patient_refs, chunk, done))
             for k in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode != 0 for p in procs):
        raise RuntimeError(f"seed: a worker failed (exit codes {[p.exitcode for p in procs]}); see its traceback")
    return sum(done.get() for _ in procs)
