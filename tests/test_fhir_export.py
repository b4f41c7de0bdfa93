"""FHIR R4 export: one Bundle per result, one Observation per measurement, LOINC + UCUM, flags kept."""

from __future__ import annotations

from mqtt_broker import make_exam

from edge.results import utc_now
from edge.sync.fhir import LOINC, UCUM, to_fhir_bundle
from edge.sync.payload import build_payload


def test_bundle_of_observations_with_loinc_ucum_and_quality() -> None:
    exam = make_exam()
    bundle = to_fhir_bundle(build_payload(exam, utc_now()))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection" and bundle["id"] == exam.result_id
    obs = {e["resource"]["code"]["text"]: e["resource"] for e in bundle["entry"]}
    assert sorted(obs) == ["BPD", "EFW", "GA", "HC", "OFD"]
    hc = obs["HC"]
    assert hc["resourceType"] == "Observation" and hc["status"] == "final"
    assert hc["code"]["coding"][0] == {"system": LOINC, "code": "11984-2", "display": "Fetal Head Circumference US"}
    assert hc["valueQuantity"] == {"value": 181.5, "unit": "mm", "system": UCUM, "code": "mm"}
    assert hc["interpretation"][0]["coding"][0]["code"] == "ok"
    assert "head-seg 1.0.0" in hc["note"][0]["text"]
    assert obs["GA"]["valueQuantity"]["code"] == "d" and obs["GA"]["code"]["coding"][0]["code"] == "11888-5"
    efw = obs["EFW"]
    assert "valueQuantity" not in efw and efw["dataAbsentReason"]["text"] == "no AC/FL measured"
    assert efw["status"] == "preliminary"
    assert len({e["fullUrl"] for e in bundle["entry"]}) == 5
    assert all("subject" not in o for o in obs.values())


def test_bundle_ids_are_stable_for_the_same_result() -> None:
    p = build_payload(make_exam(), utc_now())
    assert to_fhir_bundle(p) == to_fhir_bundle(p)


def test_subject_only_when_patient_ref_was_allowed() -> None:
    p = build_payload(make_exam(), utc_now(), patient_ref="P-77", include_patient_ref=True)
    obs = [e["resource"] for e in to_fhir_bundle(p)["entry"]]
    assert all(o["subject"] == {"identifier": {"value": "P-77"}} for o in obs)
