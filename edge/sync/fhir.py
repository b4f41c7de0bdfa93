"""FHIR R4 export of one result: a pure function from a result payload (edge.sync.payload, any known schema
version) to a Bundle dict, shared by the device (`fetal-edge export RESULT_ID --fhir`) and the receiver.

Bundle (type collection): a DiagnosticReport for the exam, one Observation per measurement, a Device for the
edge device and one per model (name, version, sha256). What an EHR can rely on:
- Observation/DiagnosticReport status follows the review: preliminary until reviewed, final when accepted,
  amended when corrected (a corrected result supersedes an earlier one: extension `supersedes`);
- interpretation is L / N / H from the centile (below the 10th, 10th-90th, above the 90th) and only when the
  GA was established before the scan; data quality is never an interpretation: it travels as extensions
  (quality-flag, quality-score) and in the note;
- method is coded (CodeSystem method: the formula, model or caliper that made the number);
- GA and EFW say what they were derived from (derivedFrom -> the length Observations they used);
- no patient identifier unless the payload carries the config-allowed patient_ref.
"""

from __future__ import annotations

import uuid
from typing import Any, Mapping

from edge.sync.payload import QUANTITIES

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
BASE = "https://fetal-edge.org/fhir"
FLAG_EXT = f"{BASE}/StructureDefinition/quality-flag"
QUALITY_EXT = f"{BASE}/StructureDefinition/quality-score"
CENTILE_EXT = f"{BASE}/StructureDefinition/centile"
SOURCE_EXT = f"{BASE}/StructureDefinition/measurement-source"
SUPERSEDES_EXT = f"{BASE}/StructureDefinition/supersedes"
METHOD_SYSTEM = f"{BASE}/CodeSystem/method"
SHA256_SYSTEM = f"{BASE}/NamingSystem/model-sha256"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
REPORT_CODE = {"system": LOINC, "code": "11525-3", "display": "US Pelvis Fetus for pregnancy"}
STATUS = {"unreviewed": "preliminary", "accepted": "final", "corrected": "amended"}
_UNIT_DISPLAY = {"mm": "mm", "d": "day", "g": "g"}
_INTERP = {"L": "Low", "N": "Normal", "H": "High"}
LENGTHS = ("hc", "bpd", "ofd", "ac", "fl")


def _id(result_id: str, name: str) -> str:
    return str(uuid.uuid5(uuid.UUID(result_id), name))


def _ref(result_id: str, name: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{_id(result_id, name)}"}


def interpretation(centile: float | None, established: bool) -> str | None:
    """L / N / H from a centile, only at an established GA."""
    if centile is None or not established:
        return None
    return "L" if centile < 10 else "H" if centile > 90 else "N"


def _devices(p: Mapping[str, Any]) -> list[dict[str, Any]]:
    rid = p["result_id"]
    out = [{"resourceType": "Device", "id": _id(rid, "device"),
            "deviceName": [{"name": f"{p['clinic_id']}/{p['device_id']}", "type": "user-friendly-name"}]}]
    for m in p["models"]:
        out.append({"resourceType": "Device", "id": _id(rid, f"model:{m['name']}"),
                    "identifier": [{"system": SHA256_SYSTEM, "value": m["sha256"]}],
                    "deviceName": [{"name": m["name"], "type": "model-name"}],
                    "version": [{"value": m["version"]}],
                    "parent": _ref(rid, "device")})
    return out


def _inputs(method: str | None) -> list[str]:
    return [t for t in (method or "").split("+", 1)[0].split("_") if t in LENGTHS]


def _observation(p: Mapping[str, Any], name: str, m: Mapping[str, Any], status: str,
                 established: bool) -> dict[str, Any]:
    rid = p["result_id"]
    unit, loinc, display, _ = QUANTITIES[name]
    method = m.get("method") or "unknown"
    ext = [{"url": FLAG_EXT, "valueCode": m["flag"]}, {"url": QUALITY_EXT, "valueDecimal": m["quality"]},
           {"url": SOURCE_EXT, "valueCode": m.get("source", "model")}]
    if m.get("centile") is not None:
        ext.append({"url": CENTILE_EXT, "valueDecimal": m["centile"]})
    note = [f"quality {m['quality']:.2f} ({m['flag']})", f"method {method}", f"frames {m['n_frames']}"]
    if m.get("centile") is not None:
        note.append(f"centile {m['centile']:g} ({m['standard']})")
    elif m.get("centile_reason"):
        note.append(f"no centile: {m['centile_reason']}")
    if m.get("reason"):
        note.append(m["reason"])
    obs: dict[str, Any] = {
        "resourceType": "Observation", "id": _id(rid, name), "status": status, "extension": ext,
        "category": [{"coding": [{"system": CATEGORY, "code": "imaging", "display": "Imaging"}]}],
        "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}], "text": name.upper()},
        "effectiveDateTime": p["started_at"], "issued": p["saved_at"],
        "method": {"coding": [{"system": METHOD_SYSTEM, "code": method.split("+", 1)[0]}], "text": method},
        "device": _ref(rid, f"model:{m['model']['name']}") if m.get("model") else _ref(rid, "device"),
        "note": [{"text": "; ".join(note)[:4000]}],
    }
    code = interpretation(m.get("centile"), established)
    if code:
        obs["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": code, "display": _INTERP[code]}],
                                  "text": f"{m['centile']:g}th centile ({m['standard']})"}]
        obs["referenceRange"] = [{"text": f"10th-90th centile for gestational age ({m['standard']})"}]
    if m["value"] is None:
        obs["dataAbsentReason"] = {"coding": [{"system": ABSENT, "code": "not-performed" if m["flag"] ==
                                               "no_measurement" else "error"}], "text": (m["reason"] or m["flag"])[:1000]}
    else:
        obs["valueQuantity"] = {"value": m["value"], "unit": _UNIT_DISPLAY[unit], "system": UCUM, "code": unit}
    used = [n for n in _inputs(method) if n in p["measurements"]] if name in ("ga", "efw") else []
    if used and not (name == "ga" and established):
        obs["derivedFrom"] = [_ref(rid, n) for n in used]
    if "patient_ref" in p:
        obs["subject"] = {"identifier": {"value": p["patient_ref"]}}
    return obs


def _report(p: Mapping[str, Any], status: str, observations: list[dict[str, Any]]) -> dict[str, Any]:
    rid = p["result_id"]
    alerts = p.get("alerts") or []
    dating = p.get("dating") or {}
    lines = [f"GA {dating['ga_text']} ({dating['source']}, {dating['method']}), EDD {dating['edd']}"
             if dating.get("ga_text") else "No gestational age."]
    lines += [f"ALERT ({a['severity']}): {a['message']}" for a in alerts]
    lines += [f"Exam flag: {f}" for f in p.get("exam_flags") or []]
    review = p.get("review") or {"state": "unreviewed"}
    if review["state"] == "unreviewed":
        lines.append("AI-assisted; to be reviewed by a trained sonographer.")
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport", "id": _id(rid, "report"), "status": status,
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{rid}"}],
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD",
                                  "display": "Radiology"}]}],
        "code": {"coding": [REPORT_CODE], "text": "Fetal ultrasound biometry"},
        "effectiveDateTime": p["started_at"], "issued": p["saved_at"],
        "result": [{"reference": f"urn:uuid:{o['id']}"} for o in observations],
        "conclusion": " ".join(lines)[:4000],
    }
    if p.get("supersedes"):
        report["extension"] = [{"url": SUPERSEDES_EXT, "valueIdentifier": {"system": "urn:ietf:rfc:3986",
                                                                            "value": f"urn:uuid:{p['supersedes']}"}}]
    if "patient_ref" in p:
        report["subject"] = {"identifier": {"value": p["patient_ref"]}}
    return report


def to_fhir_bundle(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A validated result payload (edge.sync.payload.validate_result) -> FHIR R4 Bundle dict. Pure: the same
    payload always gives the same Bundle (ids are uuid5 of the result id)."""
    p = payload
    status = STATUS[(p.get("review") or {"state": "unreviewed"})["state"]]
    established = (p.get("dating") or {}).get("source") == "established"
    observations = [_observation(p, n, m, status, established) for n, m in sorted(p["measurements"].items())]
    resources = [_report(p, status, observations), *observations, *_devices(p)]
    return {"resourceType": "Bundle", "id": p["result_id"], "type": "collection", "timestamp": p["saved_at"],
            "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{p['result_id']}"},
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}
