"""The sync payload schema: what a device sends is exactly what the receiver accepts, with UCUM + LOINC."""

from __future__ import annotations

import json

import pytest
from mqtt_broker import make_exam

from edge.results import utc_now
from edge.sync.checks import PayloadError
from edge.sync.payload import MAX_MESSAGE_BYTES, build_payload, decode, encode, parse_result, validate_result

LOINC = {"hc": "11984-2", "bpd": "11820-8", "ac": "11979-2", "fl": "11963-6", "ga": "11888-5", "efw": "11727-5"}


def payload(**kw):
    return build_payload(make_exam(), utc_now(), **kw)


def test_round_trip_carries_units_loinc_models_and_flags() -> None:
    exam = make_exam()
    p = parse_result(encode(build_payload(exam, utc_now())))
    assert p["result_id"] == exam.result_id and p["format"] == "fetal-edge-result/1"
    m = p["measurements"]
    assert m["hc"]["value"] == 181.5 and m["hc"]["unit"] == "mm" and m["hc"]["loinc"] == LOINC["hc"]
    assert m["ga"]["unit"] == "d" and m["ga"]["loinc"] == LOINC["ga"]
    assert m["efw"] == m["efw"] | {"value": None, "flag": "no_measurement", "unit": "g", "loinc": LOINC["efw"]}
    assert m["hc"]["model"] == {"name": "head-seg", "version": "1.0.0", "sha256": "3f" * 32}
    assert [x["name"] for x in p["models"]] == ["head-seg", "planes-student"]


def test_loinc_table_matches_the_issue() -> None:
    from edge.sync.payload import QUANTITIES

    assert {k: QUANTITIES[k][1] for k in LOINC} == LOINC
    assert {k: QUANTITIES[k][0] for k in QUANTITIES} == {"hc": "mm", "bpd": "mm", "ofd": "mm", "ac": "mm",
                                                         "fl": "mm", "ga": "d", "efw": "g"}


def test_patient_ref_only_when_config_allows_it() -> None:
    assert "patient_ref" not in build_payload(make_exam(), utc_now(), patient_ref="P123")
    allowed = build_payload(make_exam(), utc_now(), patient_ref="P123", include_patient_ref=True)
    assert allowed["patient_ref"] == "P123"
    with pytest.raises(PayloadError, match="unknown field.*patient_ref"):
        validate_result(allowed)                      # a receiver that does not accept identifiers
    assert validate_result(allowed, allow_patient_ref=True)["patient_ref"] == "P123"


@pytest.mark.parametrize("mutate, message", [
    (lambda p: p.update(image="iVBORw0KGgo" * 10), "unknown field"),
    (lambda p: p["measurements"]["hc"].update(unit="cm"), "measurements.hc.unit"),
    (lambda p: p["measurements"]["hc"].update(loinc="11985-9"), "measurements.hc.loinc"),
    (lambda p: p["measurements"]["hc"].update(value="181.5"), "expected a number"),
    (lambda p: p["measurements"]["hc"].update(value=None), "null exactly when"),
    (lambda p: p["measurements"]["efw"].update(value=3000.0), "null exactly when"),
    (lambda p: p["measurements"]["hc"].update(quality=1.5), "quality"),
    (lambda p: p["measurements"].update(brain_volume=p["measurements"]["hc"]), "measurements: unknown field"),
    (lambda p: p.update(clinic_id="clinic-a/../x"), "clinic_id"),
    (lambda p: p.update(device_id="+"), "device_id"),
    (lambda p: p.update(result_id="not-a-uuid"), "result_id"),
    (lambda p: p.update(started_at="yesterday"), "started_at"),
    (lambda p: p.update(frames=True), "expected an integer"),
    (lambda p: p.update(frames=-1), "frames"),
    (lambda p: p["measurements"]["hc"].update(reason="x" * 2001), "longer than 2000"),
    (lambda p: p["measurements"]["hc"].update(method="m" * 101), "longer than 100"),
    (lambda p: p["plausibility"][0].update(source=["a"]), "plausibility\\[0\\].source"),
    (lambda p: p.pop("saved_at"), "missing required"),
    (lambda p: p.update(schema_version="2.0"), "schema_version"),
    (lambda p: p["models"].append({"name": "x", "version": "1", "sha256": "zz"}), "sha256"),
])
def test_invalid_payloads_are_refused_naming_the_field(mutate, message) -> None:
    p = json.loads(encode(payload()))
    mutate(p)
    with pytest.raises(PayloadError, match=message):
        validate_result(p)


@pytest.mark.parametrize("raw, message", [
    (b"\xff\xfe{}", "UTF-8"),
    (b'{"a": NaN}', "NaN"),
    (b"[" * 50000 + b"]" * 50000, "nested too deeply|limit"),
    (b"{" + b" " * (MAX_MESSAGE_BYTES + 1) + b"}", "limit"),
    (b"{\"format\": ", "not valid JSON"),
])
def test_decode_refuses_hostile_bytes(raw, message) -> None:
    with pytest.raises(PayloadError, match=message):
        decode(raw)


def test_device_refuses_to_build_a_payload_with_a_wrong_unit() -> None:
    d = make_exam().to_dict()
    d["measurements"]["hc"]["unit"] = "cm"
    with pytest.raises(PayloadError, match="UCUM 'mm'"):
        build_payload(d, utc_now())


def test_every_exam_the_runtime_can_build_is_a_valid_payload() -> None:
    """Contract with the producer: edge.pipeline.exam.build_exam for every GA x EFW method, with and without
    user-given AC/FL, implausible ones included."""
    from edge.clinical import EFW_METHODS, GA_METHODS
    from edge.manifest import ModelRef
    from edge.pipeline.exam import build_exam
    from edge.results import Measurement

    seg = ModelRef("head-seg", "1.0.0", "ab" * 32)
    frames = [{n: Measurement(n, v + i, "mm", 0.9, "ok", seg, "ellipse_fit") for n, v in
               (("hc", 180.0), ("bpd", 48.0), ("ofd", 62.0))} for i in range(5)]
    n = 0
    for ga in GA_METHODS:
        for efw in EFW_METHODS:
            for given in (None, {"ac": 160.0, "fl": 33.0}, {"ac": 400.0, "fl": 10.0}):
                exam = build_exam(clinic_id="clinic-a", device_id="dev-1", started_at=utc_now(), ended_at=utc_now(),
                                  status="complete", head_frames=frames, no_head_reason="no head", models=[seg],
                                  planes_seen={"Fetal brain": 5}, frames=10, dropped=0, fps=12.0, ga_method=ga,
                                  efw_method=efw, given_mm=given)
                p = parse_result(encode(build_payload(exam, utc_now())))
                assert p["measurements"]["hc"]["loinc"] == "11984-2"
                n += 1
    assert n == len(GA_METHODS) * len(EFW_METHODS) * 3
