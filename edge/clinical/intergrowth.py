"""INTERGROWTH-21st: gestational age from HC (and FL), and estimated fetal weight from HC and AC.

GA: Papageorghiou AT et al. Ultrasound-based gestational-age estimation in late pregnancy.
    Ultrasound Obstet Gynecol 2016;48:719-726. 4,229 women of the Fetal Growth Longitudinal Study with
    first-trimester-confirmed dates, scanned every 5 weeks from 14 weeks to delivery.
      HC:      ln(GA days) = 0.05970 (ln HC)^2 + 0.000000006409 HC^3 + 3.3258
      HC + FL: ln(GA days) = 0.03243 (ln HC)^2 + 0.001644 FL ln(HC) + 3.813        (HC, FL in mm)
    Valid: estimates within 14+0 to 40+0 weeks (the study's span); HC-only inputs that map there
    (97-347 mm); for HC+FL, HC and FL between the 3rd centile at 14 weeks and the 97th at 40 weeks of
    the INTERGROWTH-21st fetal growth standards (Papageorghiou et al., Lancet 2014;384:869-79).
EFW: Stirnemann J et al. International estimated fetal weight standards of the INTERGROWTH-21st Project.
    Ultrasound Obstet Gynecol 2017;49:478-486. Babies born within 14 days of the scan.
      ln(EFW g) = 5.084820 - 54.06633 (AC/100)^3 - 95.80076 (AC/100)^3 ln(AC/100) + 3.136370 (HC/100)
    with AC and HC in cm. Valid: the EFW standard covers 22-40 weeks; HC and AC between the 3rd centile
    at 22 weeks and the 97th centile at 40 weeks of the INTERGROWTH-21st fetal growth standards.
"""

from __future__ import annotations

import math
from typing import Mapping

from edge.clinical.ranges import Formula, cm

GA_SOURCE = "Papageorghiou et al. 2016, Ultrasound Obstet Gynecol 48:719-726"
EFW_SOURCE = "Stirnemann et al. 2017, Ultrasound Obstet Gynecol 49:478-486"
GA_RANGE_DAYS = (98.0, 280.0)
GA_PRECISION = ("prediction interval widens with gestation (see the paper); meant for women first seen "
                "in the 2nd trimester, best before 26 weeks")
EFW_PRECISION = "validated against birthweight within 14 days of the scan (see the paper)"


def _ga_hc(mm: Mapping[str, float]) -> float:
    hc = mm["hc"]
    return math.exp(0.05970 * math.log(hc) ** 2 + 0.000000006409 * hc ** 3 + 3.3258)


def _ga_hc_fl(mm: Mapping[str, float]) -> float:
    ln_hc = math.log(mm["hc"])
    return math.exp(0.03243 * ln_hc ** 2 + 0.001644 * mm["fl"] * ln_hc + 3.813)


def _efw_hc_ac(mm: Mapping[str, float]) -> float:
    ac, hc = cm(mm["ac"]) / 100.0, cm(mm["hc"]) / 100.0
    return math.exp(5.084820 - 54.06633 * ac ** 3 - 95.80076 * ac ** 3 * math.log(ac) + 3.136370 * hc)


def intergrowth_ga_formulas() -> dict[str, Formula]:
    """The two INTERGROWTH-21st GA equations, keyed by method name."""
    return {
        "intergrowth21_hc": Formula(
            "intergrowth21_hc", "ga", ("hc",), _ga_hc, {"hc": (97.0, 347.0)}, GA_RANGE_DAYS,
            GA_SOURCE, GA_PRECISION),
        "intergrowth21_hc_fl": Formula(
            "intergrowth21_hc_fl", "ga", ("hc", "fl"), _ga_hc_fl, {"hc": (87.0, 359.0), "fl": (10.0, 79.0)},
            GA_RANGE_DAYS, GA_SOURCE, GA_PRECISION),
    }


def intergrowth_efw_formulas() -> dict[str, Formula]:
    """The INTERGROWTH-21st EFW equation (HC, AC), keyed by method name."""
    return {
        "intergrowth21_hc_ac": Formula(
            "intergrowth21_hc_ac", "efw", ("hc", "ac"), _efw_hc_ac,
            {"hc": (181.0, 359.0), "ac": (153.0, 392.0)}, (0.0, math.inf), EFW_SOURCE, EFW_PRECISION),
    }
