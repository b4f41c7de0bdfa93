"""Estimated fetal weight against values printed in the sources."""

from __future__ import annotations

import pytest

from edge.clinical import EFW_METHODS, estimate_efw
from edge.errors import InputError
from edge.results import FLAG_OK, FLAG_OUT_OF_RANGE
from test_clinical_ga import HADLOCK_MEANS_MM  # tests/ is on sys.path under pytest (rootdir conftest)


def test_intergrowth_efw_worked_example() -> None:
    # Stirnemann et al. 2017, UOG 49:478-486, worked example in the text: AC 26.0 cm, HC 29.0 cm -> 1499 g.
    m = estimate_efw("intergrowth21_hc_ac", hc=290.0, ac=260.0)
    assert m.flag == FLAG_OK and m.unit == "g" and m.name == "efw" and m.model is None
    assert m.value == pytest.approx(1499, abs=1)


# Cross-source check for every method: a fetus with the INTERGROWTH-21st fetal growth standard medians at
# 32+0 weeks (Papageorghiou et al. 2014, Lancet 384:869-79: HC 295, BPD 84, AC 274, FL 59 mm) must weigh
# within 15% (about Hadlock's 2SD) of the 50th centile at 32 weeks in Hadlock et al. 1991,
# Radiology 181:129-133, Table 1: 1953 g.
@pytest.mark.parametrize("method", EFW_METHODS)
def test_every_efw_method_weighs_the_32_week_median_fetus(method: str) -> None:
    m = estimate_efw(method, hc=295.0, bpd=84.0, ac=274.0, fl=59.0)
    assert m.flag == FLAG_OK
    assert m.value == pytest.approx(1953, rel=0.15)


# Hadlock 1991, Table 1, 50th centiles at 24, 28, 36 and 40 weeks (670, 1210, 2813, 3619 g), against the
# Hadlock 1985 HC+AC+FL equation fed with the INTERGROWTH-21st medians at those weeks (mm: HC, AC, FL),
# again within 15%: this catches a wrong coefficient or unit anywhere along the curve, not only at 32 weeks.
@pytest.mark.parametrize("hc, ac, fl, grams", [(219.0, 191.0, 42.0, 670), (260.0, 233.0, 51.0, 1210),
                                                (319.0, 313.0, 66.0, 2813), (334.0, 350.0, 72.0, 3619)])
def test_hadlock_hc_ac_fl_follows_the_hadlock_1991_median_curve(hc: float, ac: float, fl: float,
                                                                grams: float) -> None:
    assert estimate_efw("hadlock1985_hc_ac_fl", hc=hc, ac=ac, fl=fl).value == pytest.approx(grams, rel=0.15)


# Hadlock's own chain: the Hadlock 1984 mean BPD, HC, AC, FL by week (Hologic "... by GA - Hadlock1984"
# tables, the same rows as in test_clinical_ga.py) through each Hadlock 1985 equation must land on the
# Hadlock 1991 Table 1 50th centile of that week (a weight standard built with Hadlock's EFW equation)
# within 5%, for 20-34 weeks.
HADLOCK_1991_P50_G = {20: 331, 22: 478, 24: 670, 26: 913, 28: 1210, 30: 1559, 32: 1953, 34: 2377}


@pytest.mark.parametrize("method", [m for m in EFW_METHODS if m.startswith("hadlock1985_")])
def test_hadlock_efw_of_hadlock_mean_biometry_is_the_hadlock_1991_median(method: str) -> None:
    for week, grams in HADLOCK_1991_P50_G.items():
        bpd, hc, ac, fl = HADLOCK_MEANS_MM[week]
        m = estimate_efw(method, bpd=bpd, hc=hc, ac=ac, fl=fl)
        assert m.value == pytest.approx(grams, rel=0.05), f"{method} at {week} weeks: {m.value:.0f} g"


def test_efw_refuses_outside_its_range() -> None:
    m = estimate_efw("intergrowth21_hc_ac", hc=150.0, ac=130.0)
    assert m.flag == FLAG_OUT_OF_RANGE and m.value is None and "hc=150.0 mm" in m.reason and "181-359 mm" in m.reason
    tiny = estimate_efw("hadlock1985_ac_fl", ac=80.0, fl=15.0)   # about 14 weeks: far below 300 g
    assert tiny.flag == FLAG_OUT_OF_RANGE and tiny.value is None and "300-5000 g" in tiny.reason


def test_efw_bad_method_and_missing_input() -> None:
    with pytest.raises(InputError, match="unknown EFW method"):
        estimate_efw("shepard", ac=250.0, bpd=70.0)
    with pytest.raises(InputError, match=r"missing \['hc'\]"):
        estimate_efw("intergrowth21_hc_ac", ac=250.0)
