"""Caliper conventions: which BPD each formula or standard was built on, and the one conversion we use.

The device measures BPD outer-to-outer (edge/biometry/measure.py: the fitted ellipse lies on the outer skull
edge). Hadlock's regressions were built on BPD outer-to-inner (leading edge to leading edge); the
INTERGROWTH-21st standards on outer-to-outer. A BPD goes to a formula in that formula's own convention,
converted with the regression of Wong et al. 2018 (Australas J Ultrasound Med 21:161-168, 543 fetuses at
14-40 weeks, both calipers on each): BPDoi = -0.403458 + 0.9714153 x BPDoo (mm). The difference grows with
size: about 1.1 mm at BPD 25 mm, 1.8 mm at 50 mm, 3.0 mm at 90 mm. Every converted number says so in its
method. Per-formula conventions and their sources: docs/clinical_formulas.md, "Caliper conventions".
"""

from __future__ import annotations

from dataclasses import replace

OUTER_OUTER = "outer-to-outer"
OUTER_INNER = "outer-to-inner"
DEVICE_BPD = OUTER_OUTER
WONG_2018 = "Wong et al. 2018, Australas J Ultrasound Med 21:161 (BPDoi = -0.403458 + 0.9714153 BPDoo)"
CONVERSION_TAG = "bpd_oo2oi_wong2018"

# BPD convention by method family (the prefix of a method name) and by check
BPD_CONVENTION = {
    "hadlock1984": OUTER_INNER,      # Hadlock et al. 1984 (Radiology 152:497): leading edge to leading edge
    "hadlock1985": OUTER_INNER,      # the same group's EFW equations, same calipers
    "intergrowth21": OUTER_OUTER,    # INTERGROWTH-21st protocol (Papageorghiou et al., BJOG 2013;120 Suppl 2)
    "fl_bpd_ratio": OUTER_INNER,     # Hohler & Quetel 1981 (leading-edge BPD, the US practice of the time)
}


def bpd_outer_inner(bpd_outer_outer_mm: float) -> float:
    """Wong et al. 2018: outer-to-inner BPD from an outer-to-outer one (mm)."""
    return -0.403458 + 0.9714153 * bpd_outer_outer_mm


def family(method: str) -> str:
    return method.split("_", 1)[0]


def bpd_for(method: str, bpd_device_mm: float) -> tuple[float, bool]:
    """(BPD in the convention `method` was built on, converted?) from a device (outer-to-outer) BPD."""
    convention = BPD_CONVENTION.get(method) or BPD_CONVENTION.get(family(method), DEVICE_BPD)
    if convention == OUTER_INNER:
        return bpd_outer_inner(bpd_device_mm), True
    return bpd_device_mm, False


def tagged(method: str, converted: bool) -> str:
    """The method name, with the conversion named when BPD was converted."""
    return f"{method}+{CONVERSION_TAG}" if converted else method


def inputs_for(method: str, given: dict, device_bpd: bool) -> tuple[dict, bool]:
    """The inputs of `method` with a device (outer-to-outer) BPD converted to the method's convention.

    `given` maps names to numbers or Measurements (edge.clinical.ranges accepts both). Without `device_bpd`
    the caller vouches that BPD is already in the method's convention."""
    raw = given.get("bpd")
    if not device_bpd or raw is None:
        return given, False
    value = getattr(raw, "value", raw)
    if value is None:
        return given, False
    bpd, converted = bpd_for(method, float(value))
    if not converted:
        return given, False
    new = replace(raw, value=round(bpd, 2)) if hasattr(raw, "value") else bpd
    return {**given, "bpd": new}, True
