"""Synthetic but plausible exams for `fetal-receiver demo`: a few clinics in three districts, two devices
each, ten weeks of exams whose HC, AC and FL are drawn at a random centile of the INTERGROWTH-21st standards
(edge.clinical.standards) for a random gestational age; some low-quality, implausible or missing values, one
device that has gone quiet and one whose plane classifier drifts. Every payload passes the real schema check
(edge.sync.payload.validate_result) and is stored by the real ingest path (receiver.ingest)."""

from __future__ import annotations

import math
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from edge.clinical.standards import BY_QUANTITY, value_at
from edge.sync.payload import QUANTITIES, RESULT_FORMAT, TELEMETRY_FORMAT, validate_result, validate_telemetry

CLINICS = (("kisoro-hc4", "Kisoro HC IV", "Kisoro"), ("nyakabande-hc3", "Nyakabande HC III", "Kisoro"),
           ("rubanda-hc4", "Rubanda HC IV", "Rubanda"), ("hamurwa-hc4", "Hamurwa HC IV", "Rubanda"),
           ("kabale-rrh", "Kabale Regional Referral Hospital", "Kabale"), ("kamukira-hc4", "Kamukira HC IV", "Kabale"))
SEG = {"name": "head-seg", "version": "1.3.0", "sha256": "4c1f" * 16}
PLANES = {"name": "plane-cls", "version": "1.3.0", "sha256": "9ab2" * 16}
QUIET_DEVICE = ("rubanda-hc4", "dev-2")       # last seen three weeks ago
DRIFTING_DEVICE = ("kabale-rrh", "dev-1")     # many more `unknown` frames in the latest week


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _measurement(name: str, value: float | None, flag: str, quality: float, method: str,
                 model: dict[str, str] | None, reason: str | None = None) -> dict[str, Any]:
    unit, loinc = QUANTITIES[name][:2]
    return {"value": None if value is None else round(value, 1), "unit": unit, "loinc": loinc,
            "quality": round(quality, 2), "flag": flag, "model": model, "method": method, "reason": reason,
            "n_frames": 0 if value is None else 5}


def _sizes(rng: random.Random, ga_days: float) -> dict[str, float]:
    z = rng.gauss(0.0, 1.0)   # one fetus: its sizes share a centile, each with a little scatter
    return {q: value_at(BY_QUANTITY[q], z + rng.gauss(0.0, 0.3), ga_days) for q in ("hc", "ac", "fl")}


def _planes(frames: int, unknown: int) -> dict[str, int]:
    known = frames - unknown
    split = {"Fetal brain": known // 3, "Fetal abdomen": known // 4, "Fetal femur": known // 6}
    return {**split, "Other": known - sum(split.values()), "unknown": unknown}


def exam_payload(rng: random.Random, clinic: str, device: str, started: datetime, drift: bool) -> dict[str, Any]:
    ga = rng.uniform(16 * 7, 38 * 7)
    size = _sizes(rng, ga)
    roll = rng.random()
    meas = {}
    hc_flag, hc_q = ("low_quality", 0.42) if roll < 0.08 else ("ok", rng.uniform(0.8, 0.97))
    if roll > 0.95:
        meas["hc"] = _measurement("hc", None, "no_measurement", 0.1, "ellipse_fit", SEG,
                                  "quality gate: no head frame scored above 0.5")
    else:
        meas["hc"] = _measurement("hc", size["hc"], hc_flag, hc_q, "ellipse_fit", SEG,
                                  "head partly outside the sector" if hc_flag == "low_quality" else None)
        meas["bpd"] = _measurement("bpd", size["hc"] / math.pi / 1.2, "ok", hc_q, "ellipse_fit", SEG)
        meas["ofd"] = _measurement("ofd", size["hc"] / math.pi / 0.84, "ok", hc_q, "ellipse_fit", SEG)
    ac = size["ac"] * (1.35 if 0.90 < roll <= 0.93 else 1.0)       # a few implausible abdomens
    meas["ac"] = _measurement("ac", ac, "ok", rng.uniform(0.75, 0.95), "ellipse_fit", SEG)
    meas["fl"] = _measurement("fl", size["fl"], "ok", rng.uniform(0.75, 0.95), "caliper_line", SEG)
    if "hc" in meas and meas["hc"]["value"] is not None:
        meas["ga"] = _measurement("ga", ga + rng.gauss(0, 4), "ok", hc_q, "intergrowth21_hc_fl", None,
                                  "Papageorghiou et al. 2016")
    plaus = []
    if meas["hc"]["value"] is not None:
        ratio = meas["hc"]["value"] / ac
        plaus.append({"check": "hc_ac_ratio", "value": round(ratio, 3), "range": [0.9, 1.35],
                      "ok": 0.9 <= ratio <= 1.35, "source": "INTERGROWTH-21st fetal growth standards"})
    frames = rng.randint(600, 1800)
    unknown = int(frames * (rng.uniform(0.25, 0.35) if drift else rng.uniform(0.04, 0.09)))
    p = {"format": RESULT_FORMAT, "result_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
         "schema_version": "1.0", "clinic_id": clinic, "device_id": device, "started_at": _iso(started),
         "ended_at": _iso(started + timedelta(minutes=6)), "saved_at": _iso(started + timedelta(minutes=6, seconds=2)),
         "status": "complete", "models": [SEG, PLANES],
         "planes_seen": _planes(frames, unknown),
         "measurements": meas, "plausibility": plaus, "frames": frames, "frames_dropped": rng.randint(0, 5),
         "fps": round(rng.uniform(24, 30), 1)}
    return validate_result(p)


def demo_results(now: datetime, seed: int = 24, weeks: int = 10) -> Iterator[tuple[dict[str, Any], datetime]]:
    """(payload, received_at) for every demo exam, oldest first."""
    rng = random.Random(seed)
    start = now - timedelta(weeks=weeks)
    for clinic, _, _ in CLINICS:
        for device in ("dev-1", "dev-2"):
            stop = now - timedelta(weeks=3) if (clinic, device) == QUIET_DEVICE else now
            t = start
            while True:
                t += timedelta(hours=rng.uniform(6, 30))
                if t >= stop:
                    break
                if t.weekday() == 6 or not 7 <= t.hour <= 17:
                    continue
                drift = (clinic, device) == DRIFTING_DEVICE and t > now - timedelta(days=7)
                yield exam_payload(rng, clinic, device, t, drift), t + timedelta(minutes=7, seconds=rng.uniform(0, 90))


def demo_telemetry(now: datetime, seed: int = 24) -> Iterator[tuple[dict[str, Any], datetime]]:
    rng = random.Random(seed)
    for clinic, _, _ in CLINICS:
        for device in ("dev-1", "dev-2"):
            at = now - timedelta(weeks=3) if (clinic, device) == QUIET_DEVICE else now - timedelta(minutes=rng.randint(1, 50))
            t = {"format": TELEMETRY_FORMAT, "clinic_id": clinic, "device_id": device, "at": _iso(at),
                 "free_disk_mb": round(rng.uniform(150, 9000), 0), "outbox_len": rng.choice([0, 0, 0, 3, 12, 240]),
                 "models": [SEG, PLANES], "last_exam_fps": round(rng.uniform(24, 30), 1),
                 "last_sync_at": _iso(at - timedelta(minutes=2)), "store_warning": None}
            yield validate_telemetry(t), at
