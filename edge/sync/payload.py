"""The sync payload: a versioned JSON schema, shared by the device (builds) and the receiver (validates).

Format "fetal-edge-result/1" (one MQTT message per exam, topic <prefix>/<clinic_id>/<device_id>/results):
{
  "format": "fetal-edge-result/1",
  "result_id": "<uuid4>"           globally unique; the receiver's idempotency key,
  "schema_version": "1.1"          ExamResult schema (edge.results.RESULT_SCHEMA_VERSION); the receiver
                                   accepts every version in KNOWN_SCHEMA_VERSIONS and holds newer ones,
  "clinic_id", "device_id":        [A-Za-z0-9][A-Za-z0-9_.-]{0,63}; must match the topic,
  "started_at", "ended_at":        ISO 8601 with zone (ended_at may be null),
  "saved_at":                      when the device committed it to its outbox,
  "status": "complete" | "partial",
  "models": [{"name", "version", "sha256"}],
  "planes_seen": {"<plane>": frames},
  "measurements": {"hc"|"bpd"|"ofd"|"ac"|"fl"|"ga"|"efw": {
      "value": number|null, "unit": UCUM ("mm", "d", "g"), "loinc": "<code>", "quality": 0..1,
      "flag": ok|low_quality|implausible|out_of_range|no_measurement, "model": ref|null,
      "method", "reason": string|null, "n_frames": int}},
  "plausibility": [{"check", "value", "range", "ok", "source"}],
  "frames", "frames_dropped": int, "fps": number|null,
  "patient_ref": string            ONLY when the device config allows identifiers (sync.include_patient_ref)
  -- new in 1.1, all required (edge/sync/schema_v11.py; contract: docs/sync.md "Schema 1.1") --
  "pregnancy", "dating", "alerts", "review", "supersedes", "exam_flags", "plane_summary", and in each
  measurement "centile", "z", "standard", "centile_reason", "source".
}
No images and no patient identifiers: unknown fields are rejected, free text is at most TEXT_MAX characters,
and the whole message is at most MAX_MESSAGE_BYTES.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import re

from edge.clinical.physical import RANGES_MM
from edge.results import FLAG_NO_MEASUREMENT, FLAG_OUT_OF_RANGE, FLAGS, RESULT_SCHEMA_VERSION, ExamResult
from edge.sync import checks as c
from edge.sync import schema_v11 as v11
from edge.sync.checks import PayloadError

KNOWN_SCHEMA_VERSIONS = ("1.0", "1.1")
_VERSION_RE = re.compile(r"^(\d{1,4})\.(\d{1,4})$")


class NewerSchemaError(PayloadError):
    """A well-formed result of a schema version newer than this code knows: hold it, do not drop it."""


def _version(v: Any) -> tuple[int, int] | None:
    m = _VERSION_RE.match(v) if isinstance(v, str) else None
    return (int(m.group(1)), int(m.group(2))) if m else None


def is_newer_version(v: Any, known: tuple[str, ...] = KNOWN_SCHEMA_VERSIONS) -> bool:
    """True for a well-formed version above every known one (same major, higher minor; or a higher major)."""
    parsed = _version(v)
    return parsed is not None and all(parsed > _version(k) for k in known)

RESULT_FORMAT = "fetal-edge-result/1"
MAX_MESSAGE_BYTES = 64 * 1024
TEXT_MAX = 2000          # free text (method, reason, plausibility source): citations fit, images do not
# name -> (UCUM unit, LOINC code, display, plausible upper bound)
QUANTITIES: dict[str, tuple[str, str, str, float]] = {
    "hc": ("mm", "11984-2", "Fetal Head Circumference US", 600.0),
    "bpd": ("mm", "11820-8", "Fetal Head Diameter.biparietal US", 200.0),
    "ofd": ("mm", "11851-3", "Fetal Head Diameter.occipito-frontal US", 250.0),
    "ac": ("mm", "11979-2", "Fetal Abdomen Circumference US", 600.0),
    "fl": ("mm", "11963-6", "Fetal Femur length US", 150.0),
    "ga": ("d", "11888-5", "Gestational age US composite estimate", 350.0),
    "efw": ("g", "11727-5", "Fetal Body weight estimated by US", 10000.0),
}
_TOP_REQUIRED = {"format", "result_id", "schema_version", "clinic_id", "device_id", "started_at", "ended_at",
                 "saved_at", "status", "models", "planes_seen", "measurements", "plausibility", "frames",
                 "frames_dropped", "fps"}
_MEAS_FIELDS = {"value", "unit", "loinc", "quality", "flag", "model", "method", "reason", "n_frames"}


def _fields(version: str) -> tuple[set[str], set[str]]:
    """(top-level fields, measurement fields) a result of this schema version carries."""
    if version == "1.0":
        return _TOP_REQUIRED, _MEAS_FIELDS
    return _TOP_REQUIRED | v11.TOP_FIELDS_11, _MEAS_FIELDS | v11.MEASUREMENT_FIELDS_11


def build_payload(exam: ExamResult | Mapping[str, Any], saved_at: str,
                  patient_ref: str | None = None, include_patient_ref: bool = False) -> dict[str, Any]:
    """The message for one exam, from ExamResult (or its to_dict()); validated before it is returned."""
    d = exam.to_dict() if isinstance(exam, ExamResult) else dict(exam)
    top, fields = _fields(d.get("schema_version", RESULT_SCHEMA_VERSION))   # an outbox may hold older exams
    out = {k: d.get(k) for k in top if k not in ("format", "saved_at")}
    out["format"], out["saved_at"] = RESULT_FORMAT, saved_at
    meas = {}
    for name, m in (d.get("measurements") or {}).items():
        unit, loinc = QUANTITIES[name][:2] if name in QUANTITIES else (None, None)
        meas[name] = {**{k: m.get(k) for k in fields - {"loinc"}}, "loinc": loinc}
        if unit is not None and m.get("unit") != unit:
            raise PayloadError(f"measurements.{name}.unit: expected UCUM {unit!r}, got {m.get('unit')!r}")
    out["measurements"] = meas
    if include_patient_ref and patient_ref is not None:
        out["patient_ref"] = patient_ref
    return validate_result(out, allow_patient_ref=include_patient_ref)


def _measurement(name: str, m: Any, path: str, fields: set[str]) -> None:
    if name not in QUANTITIES:
        raise c.fail(path, f"unknown measurement; valid: {sorted(QUANTITIES)}", name)
    unit, loinc, _, upper = QUANTITIES[name]
    c.mapping(m, path, fields)
    c.string(m["unit"], f"{path}.unit", 8, choices=(unit,))
    c.string(m["loinc"], f"{path}.loinc", 16, choices=(loinc,))
    c.string(m["flag"], f"{path}.flag", 32, choices=FLAGS)
    c.number(m["quality"], f"{path}.quality", 0.0, 1.0)
    lo, hi = RANGES_MM.get(name, (0.0, upper))   # lengths: the device's physical plausibility rule
    c.number(m["value"], f"{path}.value", lo, hi, nullable=True)
    if (m["value"] is None) != (m["flag"] in (FLAG_OUT_OF_RANGE, FLAG_NO_MEASUREMENT)):
        raise c.fail(f"{path}.value", f"must be null exactly when flag is out_of_range/no_measurement "
                     f"(flag {m['flag']!r})", m["value"])
    if m["model"] is not None:
        c.model_ref(m["model"], f"{path}.model")
    c.string(m["method"], f"{path}.method", 100, nullable=True)
    c.string(m["reason"], f"{path}.reason", TEXT_MAX, nullable=True)
    c.number(m["n_frames"], f"{path}.n_frames", 0, 10**7, integer=True)
    if "source" in fields:
        v11.free_text(m["reason"], f"{path}.reason", TEXT_MAX)
        v11.measurement_extra(m, path)


def check_version(d: Any, known: tuple[str, ...] = KNOWN_SCHEMA_VERSIONS) -> str:
    """The result's schema version if known; NewerSchemaError (hold it) if newer, PayloadError otherwise."""
    v = d.get("schema_version") if isinstance(d, dict) else None
    if v in known:
        return v
    if is_newer_version(v, known):
        raise NewerSchemaError(f"schema_version: {v!r} is newer than this code knows ({list(known)}); hold the "
                               f"result and ingest it after upgrading")
    raise c.fail("schema_version", f"valid values are {list(known)} (or a newer well-formed version)", v)


def validate_result(d: Any, allow_patient_ref: bool = False,
                    known_versions: tuple[str, ...] = KNOWN_SCHEMA_VERSIONS) -> dict[str, Any]:
    """Check every field of a result message against its own schema version; raise PayloadError naming the
    first bad field (NewerSchemaError, a PayloadError, for a version newer than `known_versions`)."""
    if not isinstance(d, dict):
        raise c.fail("result", "expected an object", type(d).__name__)
    version = check_version(d, known_versions)
    top, fields = _fields(version)
    c.mapping(d, "result", top, {"patient_ref"} if allow_patient_ref else set())
    c.string(d["format"], "format", 32, choices=(RESULT_FORMAT,))
    c.string(d["result_id"], "result_id", 36, c.UUID_RE)
    c.string(d["clinic_id"], "clinic_id", 64, c.ID_RE)
    c.string(d["device_id"], "device_id", 64, c.ID_RE)
    c.timestamp(d["started_at"], "started_at")
    c.timestamp(d["ended_at"], "ended_at", nullable=True)
    c.timestamp(d["saved_at"], "saved_at")
    c.string(d["status"], "status", 16, choices=("complete", "partial"))
    for i, m in enumerate(c.array(d["models"], "models", 16)):
        c.model_ref(m, f"models[{i}]")
    planes = d["planes_seen"]
    if not isinstance(planes, dict) or len(planes) > 16:
        raise c.fail("planes_seen", "expected an object of at most 16 planes", type(planes).__name__)
    for k, v in planes.items():
        c.string(k, "planes_seen key", 64)
        c.number(v, f"planes_seen.{k}", 0, 10**7, integer=True)
    meas = d["measurements"]
    c.mapping(meas, "measurements", set(), set(QUANTITIES))
    for name, m in meas.items():
        _measurement(name, m, f"measurements.{name}", fields)
    for i, p in enumerate(c.array(d["plausibility"], "plausibility", 16)):
        c.mapping(p, f"plausibility[{i}]", {"check", "ok"}, {"value", "range", "source"})
        c.string(p["check"], f"plausibility[{i}].check", 64)
        if "source" in p:
            c.string(p["source"], f"plausibility[{i}].source", 300)
        if not isinstance(p["ok"], bool):
            raise c.fail(f"plausibility[{i}].ok", "expected true/false", p["ok"])
        c.number(p.get("value"), f"plausibility[{i}].value", -1e6, 1e6, nullable=True)
        rng = p.get("range")
        if rng is not None:
            if len(c.array(rng, f"plausibility[{i}].range", 2)) != 2:
                raise c.fail(f"plausibility[{i}].range", "expected [low, high]", rng)
            for j, x in enumerate(rng):
                c.number(x, f"plausibility[{i}].range[{j}]", -1e6, 1e6)
    c.number(d["frames"], "frames", 0, 10**9, integer=True)
    c.number(d["frames_dropped"], "frames_dropped", 0, 10**9, integer=True)
    c.number(d["fps"], "fps", 0.0, 10000.0, nullable=True)
    if "patient_ref" in d:
        c.string(d["patient_ref"], "patient_ref", 64, c.ID_RE)
    if version != "1.0":
        v11.top_extra(d)
    return d


TELEMETRY_FORMAT = "fetal-edge-telemetry/1"
_TELEMETRY_FIELDS = {"format", "clinic_id", "device_id", "at", "free_disk_mb", "outbox_len", "models",
                     "last_exam_fps", "last_sync_at", "store_warning"}


def validate_telemetry(d: Any) -> dict[str, Any]:
    """Device health (topic <prefix>/<clinic_id>/<device_id>/telemetry); see edge.sync.telemetry."""
    c.mapping(d, "telemetry", _TELEMETRY_FIELDS)
    c.string(d["format"], "format", 32, choices=(TELEMETRY_FORMAT,))
    c.string(d["clinic_id"], "clinic_id", 64, c.ID_RE)
    c.string(d["device_id"], "device_id", 64, c.ID_RE)
    c.timestamp(d["at"], "at")
    c.number(d["free_disk_mb"], "free_disk_mb", 0, 1e9)
    c.number(d["outbox_len"], "outbox_len", 0, 10**9, integer=True)
    for i, m in enumerate(c.array(d["models"], "models", 16)):
        c.model_ref(m, f"models[{i}]")
    c.number(d["last_exam_fps"], "last_exam_fps", 0.0, 10000.0, nullable=True)
    c.timestamp(d["last_sync_at"], "last_sync_at", nullable=True)
    c.string(d["store_warning"], "store_warning", nullable=True)
    return d


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, allow_nan=False).encode("utf-8")


def _no_constants(name: str) -> Any:
    raise PayloadError(f"JSON constant {name} is not allowed (numbers must be finite)")


def decode(raw: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> Any:
    """bytes -> JSON value, refusing oversized, non-UTF-8, NaN/Infinity and absurdly nested input."""
    if not isinstance(raw, (bytes, bytearray)):
        raise PayloadError(f"message must be bytes, got {type(raw).__name__}")
    if len(raw) > max_bytes:
        raise PayloadError(f"message is {len(raw)} bytes; the limit is {max_bytes}")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"message is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise PayloadError("message JSON is nested too deeply") from None
    except ValueError as exc:
        raise PayloadError(f"message is not valid JSON: {exc}") from None


def parse_result(raw: bytes, allow_patient_ref: bool = False, max_bytes: int = MAX_MESSAGE_BYTES,
                 known_versions: tuple[str, ...] = KNOWN_SCHEMA_VERSIONS) -> dict[str, Any]:
    return validate_result(decode(raw, max_bytes), allow_patient_ref=allow_patient_ref,
                           known_versions=known_versions)
