"""Plausibility cross-checks: published normal ranges, and they flag without hiding."""

from __future__ import annotations

import pytest

from edge.clinical import plausibility_checks
from edge.errors import InputError


def _by_name(checks: list[dict]) -> dict[str, dict]:
    return {c["check"]: c for c in checks}


def test_published_ranges_and_sources() -> None:
    checks = _by_name(plausibility_checks({"hc": 295.0, "bpd": 84.0, "ofd": 107.0, "ac": 274.0, "fl": 62.0},
                                          ga_days=224))
    assert set(checks) == {"fl_ac_ratio", "hc_ac_ratio", "bpd_ofd_ratio", "fl_bpd_ratio"}
    # Hadlock et al. 1983 (AJR 141:979): FL/AC 22 +- 2 (x100) from 21 weeks
    assert checks["fl_ac_ratio"]["range"] == [0.20, 0.24] and "Hadlock" in checks["fl_ac_ratio"]["source"]
    # Hadlock et al. 1981 (AJR 137:83): cephalic index mean 78.3; about 70-86 within 2SD
    assert checks["bpd_ofd_ratio"]["range"] == [0.70, 0.86]
    assert checks["bpd_ofd_ratio"]["value"] == pytest.approx(84 / 107, abs=1e-3)
    # Hohler & Quetel 1981: FL/BPD 79 +- 8 (x100) from 23 weeks
    assert checks["fl_bpd_ratio"]["range"] == [0.71, 0.87]
    for c in checks.values():
        assert c["ok"] is True and c["source"]


def test_hc_ac_ratio_range_follows_gestation() -> None:
    # Campbell & Thoms 1977 (BJOG 84:165): HC/AC falls from about 1.18 at mid-gestation to about 1.0 at term.
    mid = _by_name(plausibility_checks({"hc": 175.0, "ac": 150.0}, ga_days=20 * 7))["hc_ac_ratio"]
    term = _by_name(plausibility_checks({"hc": 175.0, "ac": 150.0}, ga_days=39 * 7))["hc_ac_ratio"]
    assert mid["range"][0] < 1.18 < mid["range"][1]
    assert term["range"][0] < 1.0 < term["range"][1]
    assert mid["ok"] is True          # 1.167 is normal at 20 weeks ...
    assert term["ok"] is False        # ... and flagged as head-sparing at 39 weeks


def test_suspicious_numbers_are_flagged_not_dropped() -> None:
    # FL 40 mm with AC 280 mm: FL/AC 0.143 (short femur or AC error): reported with ok False
    checks = _by_name(plausibility_checks({"ac": 280.0, "fl": 40.0}))
    assert checks["fl_ac_ratio"]["ok"] is False and checks["fl_ac_ratio"]["value"] == pytest.approx(0.143, abs=1e-3)
    # dolichocephaly: BPD/OFD 0.65
    assert _by_name(plausibility_checks({"bpd": 65.0, "ofd": 100.0}))["bpd_ofd_ratio"]["ok"] is False


def test_checks_need_their_inputs_and_their_gestation() -> None:
    assert plausibility_checks({"hc": 200.0}) == []
    # FL/AC applies from 21 weeks, FL/BPD from 23 weeks: left out at 18 weeks
    early = _by_name(plausibility_checks({"ac": 130.0, "fl": 27.0, "bpd": 42.0}, ga_days=18 * 7))
    assert "fl_ac_ratio" not in early and "fl_bpd_ratio" not in early


def test_bad_values_are_errors() -> None:
    with pytest.raises(InputError, match="fl=-3"):
        plausibility_checks({"ac": 250.0, "fl": -3})
    with pytest.raises(InputError, match="ga_days"):
        plausibility_checks({"ac": 250.0, "fl": 50.0}, ga_days=0)
