"""What is known before the scan: LMP, EDD, dating scan -> established GA and EDD; bad dates refused by value."""

from __future__ import annotations

from datetime import date

import pytest

from edge.clinical.dating import (Pregnancy, format_ga, parse_dating_scan, parse_ga, pregnancy_from,
                                  pregnancy_from_dict)
from edge.config import parse_config
from edge.errors import ConfigError, InputError

EXAM = date(2026, 12, 12)


def test_lmp_edd_and_dating_scan_give_the_same_32_weeks() -> None:
    # LMP 2026-05-02 -> EDD 2027-02-06 (Naegele: +280 days); both date the 2026-12-12 exam at 32w0d
    by_lmp = pregnancy_from(lmp="2026-05-02")
    by_edd = pregnancy_from(edd="2027-02-06")
    by_scan = pregnancy_from(dating_ga="12w3d@2026-07-20")   # 87 days then, +145 days -> 232
    assert by_lmp.established_ga(EXAM) == 224 and format_ga(224) == "32w0d"
    assert by_edd.established_ga(EXAM) == 224 and by_lmp.edd_on(EXAM) == date(2027, 2, 6)
    assert by_scan.established_ga(EXAM) == 87 + 145
    assert (by_lmp.basis, by_edd.basis, by_scan.basis) == ("lmp", "edd", "dating_scan")
    assert Pregnancy().established_ga(EXAM) is None and Pregnancy().basis is None
    for p in (by_lmp, by_edd, by_scan, Pregnancy()):
        assert pregnancy_from_dict(p.to_dict()) == p


@pytest.mark.parametrize("text, days", [("12w3d", 87), ("12w", 84), ("12+3", 87), (" 40w6d ", 286)])
def test_ga_strings_parse(text: str, days: int) -> None:
    assert parse_ga(text) == days


@pytest.mark.parametrize("text, message", [
    ("12w9d", r"'12w9d': weeks must be 4-44 and days 0-6"),
    ("twelve weeks", r"'twelve weeks' does not parse; write weeks and days like 12w3d"),
    ("50w", "weeks must be 4-44"),
])
def test_bad_ga_strings_are_refused_naming_the_value(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_ga(text)


def test_dating_scan_needs_its_date() -> None:
    with pytest.raises(InputError, match=r"'12w3d': give the GA and the scan date as GA@DATE"):
        parse_dating_scan("12w3d")
    with pytest.raises(InputError, match="'2026/07/20' is not a date; write it as YYYY-MM-DD"):
        parse_dating_scan("12w3d@2026/07/20")


@pytest.mark.parametrize("kw, message", [
    ({"lmp": "2026-12-20"}, r"LMP 2026-12-20 is in the future \(exam date 2026-12-12\); valid: up to 44 weeks "
                            r"before the exam, 2026-02-07 to 2026-12-12"),
    ({"lmp": "2026-01-01"}, r"LMP 2026-01-01 puts this exam at 49w2d, more than 44 weeks; valid: a pregnancy that began after "
                            r"2026-02-07"),
    ({"edd": "2026-11-01"}, r"EDD 2026-11-01 is more than 4 weeks before the exam date 2026-12-12; valid: "
                            r"2026-11-14 to 2027-09-18"),
    ({"edd": "2027-12-01"}, r"EDD 2027-12-01 is more than 40 weeks after the exam date"),
    ({"dating_ga": "12w3d@2026-12-30"}, r"dating scan date 2026-12-30 is after the exam date 2026-12-12"),
])
def test_impossible_dates_are_refused_naming_value_and_range(kw: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        pregnancy_from(**kw).established_ga(EXAM)


def test_conflicting_and_non_singleton_are_refused() -> None:
    with pytest.raises(InputError, match="lmp and edd conflict: give one of LMP, EDD or dating scan"):
        pregnancy_from(lmp="2026-05-02", edd="2027-02-06")
    with pytest.raises(InputError, match="only singleton pregnancies"):
        Pregnancy(plurality="twins")


def test_clinical_config_section_is_checked_when_it_loads() -> None:
    cfg = parse_config({"clinical": {"lmp": date.today().replace(day=1).isoformat(), "clinic_name": "Clinic A"}})
    assert cfg.section("clinical").pregnancy.basis == "lmp" and cfg.section("clinical").clinic_name == "Clinic A"
    assert parse_config({}).section("clinical").pregnancy.basis is None
    with pytest.raises(ConfigError, match=r"clinical: LMP 2999-01-01 is in the future"):
        parse_config({"clinical": {"lmp": date(2999, 1, 1)}})      # YAML gives a date object
    with pytest.raises(ConfigError, match=r"clinical: --dating-ga GA '13x' does not parse"):
        parse_config({"clinical": {"dating_ga": "13x@2026-01-01"}})
    with pytest.raises(ConfigError, match=r"clinical.plurality = 'twins': valid values are \['singleton'\]"):
        parse_config({"clinical": {"plurality": "twins"}})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['gestation'\]"):
        parse_config({"clinical": {"gestation": "12w"}})


def test_ga_and_efw_methods_are_checked_when_the_config_loads() -> None:
    assert parse_config({}).section("pipeline").ga_method == "best_ga"
    assert parse_config({}).section("pipeline").efw_method == "intergrowth21_hc_ac"
    with pytest.raises(ConfigError, match=r"pipeline.ga_method = 'hadlock_hc': valid values are \['best_ga', "):
        parse_config({"pipeline": {"ga_method": "hadlock_hc"}})
    with pytest.raises(ConfigError, match=r"pipeline.efw_method = 'shepard': valid values are \["):
        parse_config({"pipeline": {"efw_method": "shepard"}})
