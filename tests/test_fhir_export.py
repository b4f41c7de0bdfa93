"""FHIR R4 export an EHR can trust, validated by an independent FHIR library (fhir.resources, R4B models:
FHIR 4.3, the R4 line) rather than by comparing with our own output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from clinical_fixtures import exam_32_weeks
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from mqtt_broker import REPO, make_exam

from edge.clinical.alerts import DEFAULT_RULES
from edge.pipeline.review import review
from edge.results import utc_now
from edge.store import ResultStore
from edge.sync.fhir import (CENTILE_EXT, FLAG_EXT, INTERPRETATION, LOINC, SHA256_SYSTEM, UCUM, interpretation,
                            to_fhir_bundle)
from edge.sync.payload import build_payload





def validated(bundle: dict) -> dict:
    """Every resource through its fhir.resources model, and the Bundle as a whole; returns resources by id."""
    Bundle.model_validate(bundle)
    out = {}
    for e in bundle["entry"]:
        r = e["resource"]
        get_fhir_model_class(r["resourceType"]).model_validate(r)
        assert e["fullUrl"] == f"urn:uuid:{r['id']}"
        out[r["id"]] = r
    return out


def by_code(resources: dict) -> dict:
    return {r["code"]["text"]: r for r in resources.values() if r["resourceType"] == "Observation"}


def test_unreviewed_exam_is_a_valid_preliminary_bundle_with_report_devices_and_provenance() -> None:
    resources = validated(to_fhir_bundle(build_payload(exam_32_weeks(given={"ac": 250.0}), utc_now())))
    obs = by_code(resources)
    assert sorted(obs) == ["AC", "BPD", "EFW", "FL", "GA", "HC", "OFD"]
    assert all(o["status"] == "preliminary" for o in obs.values())
    hc = obs["HC"]
    assert hc["code"]["coding"][0] == {"system": LOINC, "code": "11984-2", "display": "Fetal Head Circumference US"}
    assert hc["valueQuantity"] == {"value": 265.0, "unit": "mm", "system": UCUM, "code": "mm"}
    assert hc["interpretation"][0]["coding"][0] == {"system": INTERPRETATION, "code": "L", "display": "Low"}
    assert {"url": FLAG_EXT, "valueCode": "ok"} in hc["extension"]                 # quality: an extension ...
    assert all(c["system"] == INTERPRETATION for o in obs.values() for i in o.get("interpretation", [])
               for c in i["coding"])                                               # ... never an interpretation
    assert any(x["url"] == CENTILE_EXT and x["valueDecimal"] < 3 for x in hc["extension"])
    assert hc["method"]["coding"][0]["code"] == "ellipse_fit_outer_outer"
    model = resources[hc["device"]["reference"].removeprefix("urn:uuid:")]
    assert model["deviceName"][0]["name"] == "head-seg" and model["version"][0]["value"] == "1.0.0"
    assert model["identifier"][0] == {"system": SHA256_SYSTEM, "value": "ab" * 32}
    efw = obs["EFW"]
    assert efw["method"]["text"] == "intergrowth21_hc_ac+manual_ac"
    assert [d["reference"] for d in efw["derivedFrom"]] == [f"urn:uuid:{obs['HC']['id']}", f"urn:uuid:{obs['AC']['id']}"]
    assert "derivedFrom" not in obs["GA"] and obs["GA"]["method"]["coding"][0]["code"] == "lmp"  # established
    report = next(r for r in resources.values() if r["resourceType"] == "DiagnosticReport")
    assert report["status"] == "preliminary" and len(report["result"]) == 7
    assert "AI-assisted; to be reviewed by a trained sonographer." in report["conclusion"]
    assert "head is small for the stage of pregnancy" in report["conclusion"]
    assert obs["FL"]["dataAbsentReason"]["coding"][0]["code"] == "not-performed"
    assert all("subject" not in r for r in resources.values())


def test_without_dates_there_is_no_interpretation_and_ga_is_derived_from_biometry() -> None:
    obs = by_code(validated(to_fhir_bundle(build_payload(exam_32_weeks(lmp=None), utc_now()))))
    assert all("interpretation" not in o for o in obs.values())
    assert obs["GA"]["method"]["coding"][0]["code"] == "hadlock1984_bpd_hc"          # ~28 weeks: Hadlock
    assert {d["reference"] for d in obs["GA"]["derivedFrom"]} == {f"urn:uuid:{obs[n]['id']}" for n in ("BPD", "HC")}


def test_review_states_map_to_final_and_amended_and_a_correction_names_what_it_replaces() -> None:
    original = exam_32_weeks(given={"ac": 250.0}).to_dict()
    accepted = review(original, corrections=None, note=None, by="Midwife A", ga_method="best_ga",
                      efw_method="intergrowth21_hc_ac", rules=DEFAULT_RULES)
    corrected = review(original, corrections={"hc": 294.0}, note="re-measured", by=None, ga_method="best_ga",
                       efw_method="intergrowth21_hc_ac", rules=DEFAULT_RULES)
    for result, status in ((accepted, "final"), (corrected, "amended")):
        resources = validated(to_fhir_bundle(build_payload(result, utc_now())))
        assert {r["status"] for r in resources.values() if r["resourceType"] != "Device"} == {status}
        report = next(r for r in resources.values() if r["resourceType"] == "DiagnosticReport")
        assert report["extension"][0]["valueIdentifier"]["value"] == f"urn:uuid:{original['result_id']}"
        assert "AI-assisted" not in report["conclusion"]
    hc = by_code(validated(to_fhir_bundle(build_payload(corrected, utc_now()))))["HC"]
    assert hc["interpretation"][0]["coding"][0]["code"] == "N" and hc["method"]["coding"][0]["code"] == \
        "review_correction"


def test_interpretation_thresholds() -> None:
    assert [interpretation(c, True) for c in (2.0, 9.9, 10.0, 50.0, 90.0, 90.1)] == ["L", "L", "N", "N", "N", "H"]
    assert interpretation(2.0, False) is None and interpretation(None, True) is None


def test_a_10_payload_exports_too_and_ids_are_stable() -> None:
    old = make_exam()
    old.schema_version = "1.0"
    p = build_payload(old, utc_now())
    assert validated(to_fhir_bundle(p)) and to_fhir_bundle(p) == to_fhir_bundle(p)


def test_subject_only_when_patient_ref_was_allowed() -> None:
    p = build_payload(exam_32_weeks(given={"ac": 250.0}), utc_now(), patient_ref="P-77", include_patient_ref=True)
    resources = validated(to_fhir_bundle(p))
    assert all(r["subject"] == {"identifier": {"value": "P-77"}} for r in resources.values()
               if r["resourceType"] != "Device")


def test_export_command_prints_the_bundle_of_a_stored_result(tmp_path: Path) -> None:
    db, e = tmp_path / "dev.sqlite", exam_32_weeks(given={"ac": 250.0})
    with ResultStore(db) as store:
        store.save(e)
    run = lambda *a: subprocess.run([sys.executable, "-m", "edge", "export", *a, "--store", str(db)],  # noqa: E731
                                    cwd=REPO, capture_output=True, text=True, timeout=120)
    done = run(e.result_id, "--fhir")
    assert done.returncode == 0, done.stderr
    bundle = json.loads(done.stdout)
    assert bundle["id"] == e.result_id and validated(bundle)
    missing = run(e.result_id)
    assert missing.returncode == 3 and "choose the export format: --fhir" in missing.stderr
    unknown = run("00000000-0000-4000-8000-000000000000", "--fhir")
    assert unknown.returncode == 3 and "no result 00000000-0000-4000-8000-000000000000" in unknown.stderr
    out = tmp_path / "bundle.json"
    assert run(e.result_id, "--fhir", "--out", str(out)).returncode == 0
    assert json.loads(out.read_text())["entry"] == bundle["entry"]
