"""Export one result as a FHIR R4 Bundle (type "collection") of Observations, one per measurement with a
value: LOINC code, UCUM quantity, the model that made it (device + note), and the quality flag as an
interpretation. Measurements without a number become an Observation with dataAbsentReason. No patient
identifier is written unless the payload carries the (config-allowed) patient_ref."""

from __future__ import annotations

import uuid
from typing import Any, Mapping

from edge.sync.payload import QUANTITIES, validate_result

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
FLAG_SYSTEM = "https://fetal-edge.org/fhir/CodeSystem/quality-flag"
ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
_UNIT_DISPLAY = {"mm": "mm", "d": "day", "g": "g"}


def _observation(result: Mapping[str, Any], name: str, m: Mapping[str, Any]) -> dict[str, Any]:
    unit, loinc, display, _ = QUANTITIES[name]
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(uuid.uuid5(uuid.UUID(result["result_id"]), name)),
        "status": "final" if m["flag"] == "ok" else "preliminary",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "imaging"}]}],
        "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}], "text": name.upper()},
        "effectiveDateTime": result["started_at"],
        "issued": result["saved_at"],
        "interpretation": [{"coding": [{"system": FLAG_SYSTEM, "code": m["flag"]}]}],
        "note": [{"text": f"quality {m['quality']:.2f}; method {m['method'] or 'n/a'}; frames {m['n_frames']}"
                  + (f"; model {m['model']['name']} {m['model']['version']} sha256 {m['model']['sha256']}"
                     if m["model"] else "") + (f"; {m['reason']}" if m["reason"] else "")}],
        "device": {"display": f"{result['clinic_id']}/{result['device_id']}"},
    }
    if m["value"] is None:
        obs["dataAbsentReason"] = {"coding": [{"system": ABSENT, "code": "not-performed" if m["flag"] ==
                                               "no_measurement" else "error"}], "text": m["reason"] or m["flag"]}
    else:
        obs["valueQuantity"] = {"value": m["value"], "unit": _UNIT_DISPLAY[unit], "system": UCUM, "code": unit}
    if "patient_ref" in result:
        obs["subject"] = {"identifier": {"value": result["patient_ref"]}}
    return obs


def to_fhir_bundle(result: Mapping[str, Any]) -> dict[str, Any]:
    """A validated result payload (edge.sync.payload) -> FHIR R4 Bundle of Observations."""
    validate_result(dict(result), allow_patient_ref="patient_ref" in result)
    entries = [_observation(result, name, m) for name, m in sorted(result["measurements"].items())]
    return {
        "resourceType": "Bundle",
        "id": result["result_id"],
        "type": "collection",
        "timestamp": result["saved_at"],
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{result['result_id']}"},
        "entry": [{"fullUrl": f"urn:uuid:{o['id']}", "resource": o} for o in entries],
    }
