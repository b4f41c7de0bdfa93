"""Size-for-GA standards against the values the INTERGROWTH-21st project published (each row names its table).

Sources of the expected numbers (we could not open the PDFs themselves here; the rows are as two public
extractions of them print them, and the two agree wherever they overlap):
- Centile tables, INTERGROWTH-21st Fetal Growth Standards (the tables of Papageorghiou et al., Lancet
  2014;384:869-79), files GROW_Fetal-ct_{bpd,ofd,ac,fl}_Table.pdf at intergrowth21.tghn.org: the 14-week
  rows, as printed by the `intergrowth` R package's documentation (nutriverse/intergrowth, data
  *_gestage_centile, extracted from those PDFs).
- z-score tables GROW_Fetal-zs_{hc,bpd,ofd,ac,fl}_Table.pdf (-3 to +3 SD by week 14-40), as extracted to CSV
  in the public repository Yannngn/intergrowth-fetal-growth-csv.
- EFW (Stirnemann et al., Ultrasound Obstet Gynecol 2017;49:478-486): GROW_EFW_ct_Table_values.pdf and
  GROW_EFW_zs_Table.pdf, weeks 22 and 23 as printed by the `intergrowth` R package's documentation. These
  are the only EFW rows we could find printed; later weeks are checked by the same equations, not a table.
Tolerance: 0.5 mm for lengths (the tables print 0.1 mm), 1 % for EFW (the tables print whole grams).
"""

from __future__ import annotations

import pytest

from edge.clinical.standards import (BY_QUANTITY, STANDARDS, centile_of, get_standard, value_at,
                                     value_at_centile, z_of, z_score)
from edge.errors import InputError

CENTILES = (3, 5, 10, 50, 90, 95, 97)
# GROW_Fetal-ct_<x>_Table, 14+0 weeks: 3rd, 5th, 10th, 50th, 90th, 95th, 97th centile (mm)
CT_14_WEEKS = {
    "bpd": (26.3, 26.7, 27.4, 29.6, 31.8, 32.5, 32.9),
    "ac": (72.9, 73.8, 75.3, 80.6, 85.9, 87.4, 88.4),
    "fl": (10.3, 10.6, 11.2, 13.1, 15.1, 15.6, 16.0),
    "ofd": (30.1, 30.6, 31.3, 33.8, 36.2, 36.9, 37.4),
}
# GROW_Fetal-ct_<x>_Table, 15+0 weeks, the rows the documentation prints: 3rd, 5th, 10th centile (mm)
CT_15_WEEKS = {"bpd": (29.1, 29.6, 30.2), "ac": (82.9, 84.1, 85.8), "fl": (13.4, 13.7, 14.3),
               "ofd": (34.4, 34.9, 35.6)}
# GROW_Fetal-zs_<x>_Table: week -> (-3, -2, -1, 0, +1, +2, +3 SD) in mm
ZS = {
    "hc": {14: (81.1, 86.7, 92.3, 97.9, 103.5, 109.0, 114.6), 20: (150.2, 157.6, 165.0, 172.5, 179.9, 187.4, 194.8),
           26: (214.6, 223.2, 231.9, 240.5, 249.1, 257.8, 266.4), 32: (265.5, 275.1, 284.7, 294.4, 304.0, 313.6, 323.2),
           40: (295.2, 308.1, 321.0, 333.9, 346.9, 359.8, 372.7)},
    "bpd": {14: (24.4, 26.1, 27.9, 29.6, 31.4, 33.1, 34.8), 20: (41.5, 43.8, 46.1, 48.4, 50.7, 53.0, 55.3),
            26: (59.2, 62.0, 64.8, 67.6, 70.4, 73.2, 76.0), 32: (74.2, 77.4, 80.6, 83.8, 86.9, 90.1, 93.3),
            40: (83.1, 87.1, 91.0, 94.9, 98.8, 102.7, 106.7)},
    "ofd": {14: (28.0, 29.9, 31.8, 33.8, 35.7, 37.6, 39.6), 20: (52.4, 55.1, 57.9, 60.7, 63.5, 66.2, 69.0),
            26: (74.5, 78.0, 81.4, 84.9, 88.3, 91.8, 95.2), 32: (91.0, 95.2, 99.3, 103.5, 107.6, 111.7, 115.9),
            40: (97.2, 103.4, 109.6, 115.8, 122.0, 128.2, 134.4)},
    "ac": {14: (68.2, 72.4, 76.5, 80.6, 84.7, 88.9, 93.0), 20: (124.8, 132.5, 140.1, 147.7, 155.4, 163.0, 170.6),
           26: (181.3, 191.7, 202.0, 212.4, 222.8, 233.1, 243.5), 32: (233.2, 246.8, 260.3, 273.9, 287.5, 301.1, 314.7),
           40: (282.6, 305.0, 327.4, 349.8, 372.2, 394.6, 417.1)},
    "fl": {14: (8.6, 10.1, 11.6, 13.1, 14.6, 16.1, 17.7), 20: (26.0, 27.7, 29.5, 31.3, 33.1, 34.8, 36.6),
           26: (40.7, 42.7, 44.7, 46.7, 48.8, 50.8, 52.8), 32: (52.3, 54.7, 57.1, 59.5, 61.8, 64.2, 66.6),
           40: (62.5, 65.7, 68.9, 72.1, 75.4, 78.6, 81.8)},
}
# GROW_EFW_ct_Table_values (g): 22+0 weeks all seven centiles; 23+0 weeks the 3rd, 5th, 10th
EFW_CT = {22: (463, 470, 481, 525, 578, 596, 607), 23: (516, 524, 538)}
# GROW_EFW_zs_Table (g): 22+0 weeks -3..+3 SD; 23+0 weeks -3, -2, -1 SD
EFW_ZS = {22: (433, 460, 490, 525, 565, 614, 671), 23: (479, 511, 549)}


@pytest.mark.parametrize("name", sorted(CT_14_WEEKS))
def test_14_week_centiles_match_the_published_centile_table(name: str) -> None:
    std = BY_QUANTITY[name]
    for centile, mm in zip(CENTILES, CT_14_WEEKS[name]):
        assert value_at_centile(std, centile, 98) == pytest.approx(mm, abs=0.5), (name, centile)
    for centile, mm in zip(CENTILES, CT_15_WEEKS[name]):
        assert value_at_centile(std, centile, 105) == pytest.approx(mm, abs=0.5), (name, centile)


@pytest.mark.parametrize("name", sorted(ZS))
def test_every_week_matches_the_published_z_score_table(name: str) -> None:
    std = BY_QUANTITY[name]
    for week, row in ZS[name].items():
        for z, mm in zip(range(-3, 4), row):
            assert value_at(std, z, week * 7) == pytest.approx(mm, abs=0.5), (name, week, z)
            assert z_score(std, mm, week * 7) == pytest.approx(z, abs=0.1), (name, week, z)


def test_efw_matches_the_published_efw_tables_within_one_percent() -> None:
    std = BY_QUANTITY["efw"]
    for week, row in EFW_CT.items():
        for centile, grams in zip(CENTILES, row):
            assert value_at_centile(std, centile, week * 7) == pytest.approx(grams, rel=0.01), (week, centile)
    for week, row in EFW_ZS.items():
        for z, grams in zip(range(-3, 4), row):
            assert value_at(std, z, week * 7) == pytest.approx(grams, rel=0.01), (week, z)
    # the 50th centile of the table is the median: z 0, centile 50
    assert centile_of(z_score(std, 525.0, 154)) == pytest.approx(50.0, abs=1.0)


def test_value_z_centile_round_trip_for_every_standard() -> None:
    for std in STANDARDS.values():
        for days in (std.ga_days[0], 200, std.ga_days[1]):
            for centile in (1, 3, 10, 50, 90, 97, 99):
                v = value_at_centile(std, centile, days)
                assert centile_of(z_score(std, v, days)) == pytest.approx(centile, abs=1e-6)
    assert z_of(50) == pytest.approx(0.0) and z_of(97.5) == pytest.approx(1.96, abs=0.001)


def test_standards_are_cited_data_with_their_range_and_convention() -> None:
    assert set(BY_QUANTITY) == {"hc", "bpd", "ofd", "ac", "fl", "efw"}
    for std in STANDARDS.values():
        assert "INTERGROWTH-21st" in std.label and std.source and std.caliper
    assert BY_QUANTITY["hc"].ga_days == (98, 280) and BY_QUANTITY["efw"].ga_days == (154, 280)
    assert BY_QUANTITY["bpd"].caliper == "outer-to-outer"


def test_outside_the_valid_range_or_bad_input_is_refused_by_name() -> None:
    hc = get_standard("intergrowth21_hc")
    with pytest.raises(InputError, match=r"GA 90 days is outside intergrowth21_hc's valid range 14\+0-40\+0"):
        z_score(hc, 100.0, 90)
    with pytest.raises(InputError, match="expected a finite number > 0"):
        z_score(hc, 0.0, 200)
    with pytest.raises(InputError, match="unknown growth standard 'who_hc'"):
        get_standard("who_hc")
    with pytest.raises(InputError, match="strictly between 0 and 100"):
        z_of(100)
