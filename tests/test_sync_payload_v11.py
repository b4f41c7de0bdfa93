"""Result schema 1.1 (contract: /work/coord/payload-1.1.md): new fields, per-version validation, newer versions
held not dropped, bounded free text without identifiers."""

from __future__ import annotations

import json
from datetime import date

import pytest
from clinical_fixtures import exam_32_weeks
from mqtt_broker import make_exam

from edge.results import utc_now
from edge.sync.checks import PayloadError
from edge.sync.payload import (KNOWN_SCHEMA_VERSIONS, NewerSchemaError, build_payload, encode, is_newer_version,
                               parse_result, validate_result)
from edge.sync.schema_v11 import identifier_in





def test_a_11_payload_carries_dating_centiles_alerts_and_review() -> None:
    p = parse_result(encode(build_payload(exam_32_weeks(given={"ac": 250.0}), utc_now())))
    assert p["schema_version"] == "1.1" and KNOWN_SCHEMA_VERSIONS == ("1.0", "1.1")
    assert p["pregnancy"] == {"plurality": "singleton", "basis": "lmp", "lmp": "2026-05-02", "edd": None,
                              "dating_scan": None}
    assert p["dating"]["ga_text"] == "32w0d" and p["dating"]["source"] == "established"
    assert p["dating"]["edd"] == "2027-02-06"
    hc = p["measurements"]["hc"]
    assert hc["centile"] < 3 and hc["source"] == "model" and hc["standard"].startswith("INTERGROWTH-21st")
    assert p["measurements"]["ac"]["source"] == "manual" and p["measurements"]["efw"]["source"] == "manual"
    assert {a["rule"] for a in p["alerts"]} >= {"hc_below_p3", "ac_below_p10", "efw_below_p10"}
    assert p["review"] == {"state": "unreviewed", "by": None, "at": None, "note": None} and p["supersedes"] is None
    assert p["plane_summary"]["frames_classified"] == 7 and p["plane_summary"]["unknown_frames"] == 2
    assert p["exam_flags"] == []


def test_a_late_clinical_error_keeps_the_exam_with_the_error_as_a_flag() -> None:
    exam = exam_32_weeks(lmp="2027-01-30")        # after the 2026-12-12 exam: impossible on that day
    assert exam.exam_flags and exam.exam_flags[0].startswith("late_config_error: InputError: LMP 2027-01-30")
    assert exam.measurements["hc"].value == 265.0 and exam.measurements["ga"].value is None
    p = parse_result(encode(build_payload(exam, utc_now())))
    assert p["exam_flags"] == exam.exam_flags and p["dating"]["ga_days"] is None


def test_a_10_result_stays_valid_and_an_old_outbox_entry_is_sent_as_10() -> None:
    d = json.loads(encode(build_payload(make_exam(), utc_now())))
    for key in ("pregnancy", "dating", "alerts", "review", "supersedes", "exam_flags", "plane_summary"):
        d.pop(key)
    for m in d["measurements"].values():
        for key in ("centile", "z", "standard", "centile_reason", "source"):
            m.pop(key)
    d["schema_version"] = "1.0"
    assert validate_result(d)["schema_version"] == "1.0"
    stored_10 = {k: v for k, v in d.items() if k not in ("format", "saved_at")}   # what an old device stored
    assert build_payload(stored_10, utc_now())["schema_version"] == "1.0"
    with pytest.raises(PayloadError, match="unknown field"):
        validate_result({**d, "alerts": []})                      # 1.0 does not carry 1.1 fields
    with pytest.raises(PayloadError, match="missing required field"):
        validate_result({**d, "schema_version": "1.1"})           # 1.1 requires them


@pytest.mark.parametrize("version, newer", [("1.2", True), ("1.10", True), ("2.0", True), ("1.1", False),
                                            ("1.0", False), ("0.9", False), ("1.x", False), ("", False),
                                            (None, False), ("1.2.3", False)])
def test_is_newer_version(version, newer: bool) -> None:
    assert is_newer_version(version) is newer


def test_newer_versions_are_held_by_an_old_receiver_and_malformed_ones_refused() -> None:
    p = build_payload(exam_32_weeks(), utc_now())
    with pytest.raises(NewerSchemaError, match=r"'1.1' is newer than this code knows \(\['1.0'\]\); hold"):
        validate_result(p, known_versions=("1.0",))
    with pytest.raises(NewerSchemaError):
        validate_result({**p, "schema_version": "1.2"})
    bad = {**p, "schema_version": "one"}
    with pytest.raises(PayloadError, match="schema_version") as info:
        validate_result(bad)
    assert not isinstance(info.value, NewerSchemaError)


@pytest.mark.parametrize("text, found", [
    ("call her on +254 712 345 678", "a phone or ID number"), ("phone 0712345678", "a phone or ID number"),
    ("ID 23456789", "a phone or ID number"), ("mother DOB 1990-04-01", "a date of birth"),
    ("born on 1 April 1990", "a date of birth"), ("MRN 4471", "an ID number"),
])
def test_free_text_with_an_identifier_is_refused(text: str, found: str) -> None:
    assert identifier_in(text) == found
    p = build_payload(exam_32_weeks(), utc_now())
    p["review"] = {"state": "accepted", "by": "Midwife A", "at": utc_now(), "note": text}
    with pytest.raises(PayloadError, match=f"review.note: looks like it holds {found}"):
        validate_result(p)


@pytest.mark.parametrize("text", [
    "established from lmp 2026-05-02; this exam's biometry alone would give 28w3d",
    "Wong et al. 2018, Australas J Ultrasound Med 21:161 (BPDoi = -0.403458 + 0.9714153 BPDoo)",
    "2SD +-1.19 wk for HC 68-144 mm, +-1.48 (151-219), +-2.06 (224-280), +-2.98 (284-325)",
    "hc=360.0 mm is outside hadlock1984_hc's valid range 89-358 mm (Hadlock et al. 1984, Radiology 152:497-501)",
])
def test_our_own_reasons_and_citations_are_not_mistaken_for_identifiers(text: str) -> None:
    assert identifier_in(text) is None


def test_free_text_is_bounded() -> None:
    p = build_payload(exam_32_weeks(), utc_now())
    p["review"] = {"state": "accepted", "by": "x" * 81, "at": utc_now(), "note": None}
    with pytest.raises(PayloadError, match="review.by: longer than 80"):
        validate_result(p)
    p = build_payload(exam_32_weeks(), utc_now())
    p["alerts"][0]["message"] = "m" * 501
    with pytest.raises(PayloadError, match=r"alerts\[0\].message: longer than 500"):
        validate_result(p)


def test_a_review_result_must_say_it_is_one() -> None:
    p = build_payload(exam_32_weeks(), utc_now())
    p["supersedes"] = p["result_id"]
    with pytest.raises(PayloadError, match="supersedes: a result that supersedes another is a review"):
        validate_result(p)
    assert date.fromisoformat(p["dating"]["edd"]) == date(2027, 2, 6)
