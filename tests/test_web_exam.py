"""The exam page and its API/FHIR twins: review history through `supersedes`, counts of the latest version
only, and the FHIR Bundle download."""

from __future__ import annotations

import uuid

from web_fixtures import NOW, add_clinic, log_in, make_client, payload, sqlite_engine, store  # noqa: F401

from receiver import users
from receiver.database import sessions

NOTE = "HC re-measured on the best frame"


def test_a_correction_supersedes_and_the_history_shows_both_versions(sqlite_engine) -> None:  # noqa: F811
    add_clinic(sqlite_engine, "clinic-a")
    first = payload()
    fix = payload(result_id=str(uuid.uuid4()), supersedes=first["result_id"],
                  review={"state": "corrected", "by": "dr-otieno", "at": NOW.isoformat(), "note": NOTE})
    fix["measurements"]["hc"]["value"] = 184.0
    store(sqlite_engine, [first, fix])
    with sessions(sqlite_engine)() as db:
        users.add_user(db, "prog", "programme-pass", "programme")
        db.commit()
    c = log_in(make_client(sqlite_engine), "prog")
    assert c.get("/api/v1/overview").json()["exams"] == 1                  # the correction replaces, not adds
    history = c.get(f"/api/v1/exams/{first['result_id']}").json()["history"]
    assert [(h["result_id"], h["is_latest"], h["review_state"]) for h in history] == [
        (first["result_id"], False, "unreviewed"), (fix["result_id"], True, "corrected")]
    assert history[1]["review_note"] == NOTE and history[1]["review_by"] == "dr-otieno"
    page = c.get(f"/exams/{first['result_id']}").text
    assert "superseded" in page and NOTE in page and f"/exams/{fix['result_id']}" in page
    assert "184.0 mm" in c.get(f"/exams/{fix['result_id']}").text


def test_fhir_bundle_of_an_exam(sqlite_engine) -> None:  # noqa: F811
    add_clinic(sqlite_engine, "clinic-a")
    p = payload()
    store(sqlite_engine, [p])
    with sessions(sqlite_engine)() as db:
        users.add_user(db, "prog", "programme-pass", "programme")
        db.commit()
    c = log_in(make_client(sqlite_engine), "prog")
    r = c.get(f"/fhir/Bundle/{p['result_id']}?download=true")
    assert r.headers["content-type"].startswith("application/fhir+json")
    assert r.headers["content-disposition"] == f'attachment; filename="exam-{p["result_id"]}.fhir.json"'
    bundle = r.json()
    assert bundle["resourceType"] == "Bundle" and bundle["id"] == p["result_id"]
    hc = next(e["resource"] for e in bundle["entry"] if e["resource"]["code"]["coding"][0]["code"] == "11984-2")
    assert hc["valueQuantity"] == {"value": 181.5, "unit": "mm", "system": "http://unitsofmeasure.org", "code": "mm"}
    assert "subject" not in hc                                          # no patient reference shown
    assert "Download FHIR Bundle" in c.get(f"/exams/{p['result_id']}").text


def test_exam_page_tells_the_established_ga_from_the_biometric_one(sqlite_engine) -> None:  # noqa: F811
    add_clinic(sqlite_engine, "clinic-a")
    p = payload()
    p["dating"] = {"ga_days": 224.0, "ga_text": "32w0d", "precision_days": None, "edd": "2027-01-01",
                   "source": "established", "method": "lmp"}
    store(sqlite_engine, [p])
    with sessions(sqlite_engine)() as db:
        users.add_user(db, "prog", "programme-pass", "programme")
        db.commit()
    page = log_in(make_client(sqlite_engine), "prog").get(f"/exams/{p['result_id']}").text
    assert "32w0d" in page and "that of the dates given" in page and "± 0 d" not in page
    assert "ga" in p["measurements"] and "Gestational age by this scan&#39;s biometry" in page
