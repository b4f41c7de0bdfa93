"""The clinical layer end to end: dating, size for GA, alerts, caliper conventions, manual inputs."""

from __future__ import annotations

from datetime import date

import pytest

from edge.clinical.alerts import DEFAULT_RULES, rules_from_config
from edge.clinical.assess import assess, biometric_ga
from edge.clinical.conventions import bpd_outer_inner
from edge.clinical.dating import Pregnancy, pregnancy_from
from edge.clinical.ga import estimate_ga
from edge.clinical.standards import BY_QUANTITY, value_at_centile
from edge.errors import ConfigError, InputError
from edge.pipeline.exam import given_measurement
from edge.results import Measurement

EXAM = date(2026, 12, 12)
LMP_32W = pregnancy_from(lmp="2026-05-02")          # 224 days = 32w0d on EXAM


def head(hc: float, bpd: float, ofd: float) -> dict[str, Measurement]:
    return {n: Measurement(n, v, "mm", 0.9, "ok", None, "ellipse_fit_outer_outer", None, 5)
            for n, v in (("hc", hc), ("bpd", bpd), ("ofd", ofd))}


def test_the_issue_example_32_weeks_hc_265_is_below_the_3rd_centile_with_an_alert() -> None:
    a = assess(head(265.0, 77.0, 100.0), LMP_32W, EXAM)
    assert a.dating["ga_text"] == "32w0d" and a.dating["source"] == "established" and a.dating["edd"] == "2027-02-06"
    ga = a.measurements["ga"]
    assert ga.value == 224 and ga.method == "lmp" and "biometry alone would give" in ga.reason
    hc = a.measurements["hc"]
    assert hc.centile < 3 and hc.standard.startswith("INTERGROWTH-21st fetal growth") and hc.z < -1.88
    alert = next(x for x in a.alerts if x["rule"] == "hc_below_p3")
    assert alert == {**alert, "measurement": "hc", "value": 265.0, "unit": "mm", "threshold": "< 3rd centile",
                     "standard": hc.standard, "centile": hc.centile, "severity": "refer"}
    assert "small for the stage of pregnancy" in alert["message"]
    # the head re-dates to ~28-29 weeks: more than 14 days from the dates, so that alert too
    gap = next(x for x in a.alerts if x["rule"] == "ga_discrepancy")
    assert gap["value"] < -14 and gap["threshold"] == "> 14 days"


def test_the_same_exam_without_dates_dates_from_biometry_and_cannot_judge_size() -> None:
    a = assess(head(265.0, 77.0, 100.0), Pregnancy(), EXAM)
    assert a.dating["source"] == "biometry" and 190 < a.dating["ga_days"] < 210
    for name in ("hc", "bpd", "ofd"):
        m = a.measurements[name]
        assert m.centile is None and "size for GA cannot be judged" in m.centile_reason
    assert a.alerts == []


def test_median_fetus_is_near_the_50th_centile_and_raises_nothing() -> None:
    std = BY_QUANTITY
    lengths = head(*(value_at_centile(std[n], 50, 224) for n in ("hc", "bpd", "ofd")))
    lengths["ac"] = given_measurement("ac", value_at_centile(std["ac"], 50, 224))
    a = assess(lengths, LMP_32W, EXAM)
    assert all(a.measurements[n].centile == pytest.approx(50, abs=1) for n in ("hc", "bpd", "ofd", "ac"))
    efw = a.measurements["efw"]
    assert efw.value is not None and efw.source == "manual" and efw.method == "intergrowth21_hc_ac+manual_ac"
    assert 10 < efw.centile < 90 and efw.standard.startswith("INTERGROWTH-21st EFW")
    assert a.alerts == []


def test_small_abdomen_raises_ac_and_efw_alerts() -> None:
    lengths = head(294.0, 84.0, 104.0)
    lengths["ac"] = given_measurement("ac", 240.0)            # far below the 32-week 10th centile
    a = assess(lengths, LMP_32W, EXAM)
    rules = {x["rule"] for x in a.alerts}
    assert {"ac_below_p10", "efw_below_p10"} <= rules
    assert a.measurements["ac"].source == "manual" and a.measurements["ac"].centile < 10


def test_outside_a_standards_range_there_is_no_centile_and_why() -> None:
    early = pregnancy_from(lmp="2026-09-19")                  # 12w0d on EXAM
    a = assess(head(70.0, 20.0, 25.0), early, EXAM)
    assert a.measurements["hc"].centile is None
    assert "GA 12w0d is outside the valid range" in a.measurements["hc"].centile_reason and "14+0-40+0" in \
        a.measurements["hc"].centile_reason
    lengths = head(200.0, 52.0, 70.0)
    lengths["ac"] = given_measurement("ac", 175.0)
    a = assess(lengths, pregnancy_from(lmp="2026-07-11"), EXAM)   # 22w0d: EFW standard starts at 22+0
    assert a.measurements["efw"].centile is not None
    a = assess(lengths, pregnancy_from(lmp="2026-07-12"), EXAM)   # 21w6d
    assert "outside the valid range" in a.measurements["efw"].centile_reason and "22+0-40+0" in \
        a.measurements["efw"].centile_reason


def test_efw_by_another_equation_gets_no_intergrowth_centile() -> None:
    lengths = head(294.0, 84.0, 104.0)
    lengths["ac"], lengths["fl"] = given_measurement("ac", 274.0), given_measurement("fl", 59.0)
    a = assess(lengths, LMP_32W, EXAM, efw_method="hadlock1985_hc_ac_fl")
    assert a.measurements["efw"].value is not None and a.measurements["efw"].centile is None
    assert "applies to EFW by its own HC+AC equation" in a.measurements["efw"].centile_reason


def test_best_ga_uses_intergrowth_inside_its_window_and_hadlock_outside() -> None:
    assert biometric_ga("best_ga", head(200.0, 52.0, 70.0)).method == "intergrowth21_hc"   # ~22 weeks
    late = biometric_ga("best_ga", head(300.0, 80.0, 110.0))                             # ~33 weeks
    assert late.method.startswith("hadlock1984_bpd_hc")


def test_hadlock_gets_bpd_outer_to_inner_by_the_wong_regression_and_says_so() -> None:
    # Wong et al. 2018: BPDoi = -0.403458 + 0.9714153 BPDoo; the gap grows from ~1.1 mm at 25 mm to ~3 mm at 90 mm
    assert 90.0 - bpd_outer_inner(90.0) == pytest.approx(2.98, abs=0.01)
    assert 25.0 - bpd_outer_inner(25.0) == pytest.approx(1.12, abs=0.01)
    lengths = head(250.0, 70.0, 90.0)
    via = biometric_ga("hadlock1984_bpd", lengths)
    assert via.method == "hadlock1984_bpd+bpd_oo2oi_wong2018"
    assert via.value == pytest.approx(estimate_ga("hadlock1984_bpd", bpd=bpd_outer_inner(70.0)).value, abs=0.05)
    assert via.value < estimate_ga("hadlock1984_bpd", bpd=70.0).value      # unconverted would date older


def test_alert_rules_are_settable_in_config_and_checked() -> None:
    rules = {r.rule: r for r in rules_from_config({"efw_below_p10": {"threshold": 5},
                                                   "ac_below_p10": {"enabled": False},
                                                   "bpd_below_p1": {"measurement": "bpd", "op": "below",
                                                                    "threshold": 1, "severity": "info",
                                                                    "message": "BPD very small."}})}
    assert rules["efw_below_p10"].threshold == 5 and not rules["ac_below_p10"].enabled
    assert rules["bpd_below_p1"].threshold_text() == "< 1st centile" and len(rules) == len(DEFAULT_RULES) + 1
    for bad, message in [({"hc_below_p3": {"severity": "urgent"}}, r"severity = 'urgent': valid values are "),
                         ({"new_rule": {"threshold": 3}}, r"new rule and needs \['measurement', 'message', 'op'"),
                         ({"hc_below_p3": {"threshold": 150}}, r"threshold = 150.0: must be within \(0, 100\)"),
                         ({"hc_below_p3": {"op": "differs_by_more_than"}}, "conflicts with measurement 'hc'")]:
        with pytest.raises(ConfigError, match=message):
            rules_from_config(bad)


def test_an_impossible_lmp_on_the_exam_date_is_an_input_error() -> None:
    with pytest.raises(InputError, match="LMP 2027-01-01 is in the future"):
        assess(head(265.0, 77.0, 100.0), pregnancy_from(lmp="2027-01-01"), EXAM)
