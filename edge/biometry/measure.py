"""Probability map -> robust head ellipse -> HC, BPD, OFD in mm, each with a quality score, or no measurement.

Caliper convention: HC18 reference ellipses lie on the OUTER edge of the skull, and the network is trained to
segment the whole head up to that edge, so the fitted ellipse's axes give BPD and OFD **outer-to-outer**
(BPD = minor axis, OFD = major axis). Hadlock's BPD charts use outer-to-inner; an outer-to-outer BPD is larger
by about 1.1 mm at BPD 25 mm, 1.8 mm at 50 mm and 3.0 mm at 90 mm (Wong et al. 2018; the clinical layer converts,
edge.clinical.conventions). HC = Ramanujan perimeter of the same ellipse.

Steps: threshold at 0.5 -> largest connected component (spurious blobs dropped) -> holes filled -> outer
contour -> ellipse fit with iterative outlier rejection (leaks and bumps dropped) -> gates:
  - the filled ellipse must agree with the component (IoU >= iou_gate), else "no_measurement";
  - most of the ellipse must lie inside the frame (a head cut by the frame edge is not measured);
quality = min(confidence, IoU score, residual score, inside fraction), each in 0..1 (see quality_score);
below 0.5 the numbers are still given but flagged "low_quality".
Physical plausibility (edge.clinical.physical) comes first and last: a frame whose field of view no probe makes
at this pixel size, or a head no fetus has, gives no number (flag "out_of_range", the reason names the cause).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.biometry.ellipse import Ellipse, FitResult, fit_ellipse
from edge.clinical.physical import field_of_view_problem, length_problem
from edge.errors import InputError
from edge.manifest import ModelRef
from edge.results import FLAG_LOW_QUALITY, FLAG_NO_MEASUREMENT, FLAG_OK, FLAG_OUT_OF_RANGE, Measurement

MAX_PIXEL_MM = 2.0
BOUNDARY_OFFSET_PX = 0.1  # outer contour pixel centres lie ~0.1 px inside the 0.5-level edge (measured on HC18 reference masks)


@dataclass(frozen=True)
class GateSettings:
    threshold: float = 0.5
    min_area_frac: float = 0.005   # smaller segmented area: no head in the frame
    iou_gate: float = 0.85         # filled ellipse vs segmented component
    min_inside_frac: float = 0.75  # fraction of the ellipse perimeter inside the frame
    low_quality_below: float = 0.5
    # outline re-fitted at these probabilities, giving details["hc_spread_rel"]; off by default: the two extra
    # fits cost more than half of a head measurement (e.g. (0.25, 0.75) to turn the diagnostic on)
    spread_levels: tuple[float, float] | None = None
    max_hc_spread_rel: float | None = None             # refuse above this relative HC spread (needs spread_levels)

    def __post_init__(self) -> None:
        if self.max_hc_spread_rel is not None and self.spread_levels is None:
            raise InputError("max_hc_spread_rel needs spread_levels (e.g. (0.25, 0.75)) to measure the spread")


@dataclass(frozen=True)
class HeadResult:
    status: str                    # "measured" | "no_measurement"
    reason: str | None
    hc: Measurement
    bpd: Measurement
    ofd: Measurement
    ellipse: Ellipse | None
    quality: float
    details: dict[str, float] = field(default_factory=dict)


def check_pixel_size(pixel_mm: float) -> float:
    try:
        p = float(pixel_mm)
    except (TypeError, ValueError):
        raise InputError(f"pixel size {pixel_mm!r} is not a number; expected mm per pixel in (0, {MAX_PIXEL_MM}]") from None
    if not np.isfinite(p) or p <= 0 or p > MAX_PIXEL_MM:
        raise InputError(f"pixel size {pixel_mm!r} mm is outside (0, {MAX_PIXEL_MM}] mm per pixel; "
                         "pass the scanner's mm-per-pixel (typically 0.05-0.4)")
    return p


def no_measurement(reason: str, model: ModelRef | None, details: dict[str, float] | None = None,
                   flag: str = FLAG_NO_MEASUREMENT) -> HeadResult:
    """No numbers, and why: the quality gate refused (no_measurement) or they are impossible (out_of_range)."""
    m = {n: Measurement(n, None, "mm", 0.0, flag, model, "ellipse_fit", reason)
         for n in ("hc", "bpd", "ofd")}
    return HeadResult("no_measurement", reason, m["hc"], m["bpd"], m["ofd"], None, 0.0, details or {})


def head_component(mask: np.ndarray) -> np.ndarray:
    """Largest 8-connected component with its holes filled (uint8 0/1)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(mask, np.uint8)
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    comp = (labels == best).astype(np.uint8)
    contours, _ = cv2.findContours(comp, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(comp)
    cv2.drawContours(filled, contours, -1, 1, thickness=-1)
    return filled


def _inside_fraction(ell: Ellipse, shape: tuple[int, int]) -> float:
    t = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    c, s = np.cos(np.radians(ell.angle_deg)), np.sin(np.radians(ell.angle_deg))
    x = ell.cx + ell.a * np.cos(t) * c - ell.b * np.sin(t) * s
    y = ell.cy + ell.a * np.cos(t) * s + ell.b * np.sin(t) * c
    return float(np.mean((x >= 0) & (x <= shape[1] - 1) & (y >= 0) & (y <= shape[0] - 1)))


def _fit_component(comp: np.ndarray) -> FitResult | None:
    """Ellipse fit to the outer outline of a filled component, frame-border points left out."""
    contours, _ = cv2.findContours(comp, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    pts = np.concatenate([c.reshape(-1, 2) for c in contours]).astype(np.float32)
    # points on the frame border are where the image cut the head, not the skull edge
    h, w = comp.shape
    on_border = (pts[:, 0] <= 0) | (pts[:, 1] <= 0) | (pts[:, 0] >= w - 1) | (pts[:, 1] >= h - 1)
    return fit_ellipse(pts[~on_border])


def hc_spread(prob: np.ndarray, levels: tuple[float, float], hc_px: float) -> float:
    """(HC at the lower level - HC at the upper level) / hc_px: how far the outline moves when the probability
    it is drawn at moves. Sharp skull edges give a fraction of a model pixel; faint or shadowed skulls, and leaks
    that open only at the lower level, give more. inf when either level yields no ellipse."""
    perims = []
    for level in levels:
        fit = _fit_component(head_component(prob >= level))
        if fit is None:
            return float("inf")
        perims.append(fit.ellipse.perimeter())
    return (perims[0] - perims[1]) / hc_px


def fit_head(prob: np.ndarray, gates: GateSettings = GateSettings()) -> tuple[Ellipse | None, str | None, dict[str, float]]:
    """(ellipse, None, details) or (None, reason, details) from a frame-resolution probability map."""
    mask = prob >= gates.threshold
    frac = float(mask.mean())
    if frac < gates.min_area_frac:
        return None, (f"no head found: segmented area is {frac:.2%} of the frame, "
                      f"need >= {gates.min_area_frac:.1%}"), {"area_frac": frac}
    comp = head_component(mask)
    fit = _fit_component(comp)
    if fit is None:
        return None, "no head outline: too few boundary points for an ellipse fit", {"area_frac": frac}
    ell = fit.ellipse.grown(BOUNDARY_OFFSET_PX)
    filled = ell.fill(comp.shape).astype(bool)
    cb = comp.astype(bool)
    iou = float((filled & cb).sum() / max((filled | cb).sum(), 1))
    near = cv2.dilate(filled.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    conf = float(np.mean(np.abs(2 * prob[near] - 1))) if near.any() else 0.0
    details = {"area_frac": frac, "iou": iou, "rms_px": fit.rms_px, "rms_rel": fit.rms_px / ell.b,
               "inlier_frac": fit.inlier_frac,
               "confidence": conf, "inside_frac": _inside_fraction(ell, comp.shape)}
    if iou < gates.iou_gate:
        return None, (f"head outline is not elliptic: fitted ellipse overlaps the segmentation with IoU "
                      f"{iou:.2f}, need >= {gates.iou_gate:.2f}"), details
    if details["inside_frac"] < gates.min_inside_frac:
        return None, (f"head is cut by the frame edge: {details['inside_frac']:.0%} of the outline is inside, "
                      f"need >= {gates.min_inside_frac:.0%}"), details
    if gates.spread_levels is None:
        return ell, None, details
    # two more fits at frame resolution: only for heads the cheaper gates let through
    details["hc_spread_rel"] = hc_spread(prob, gates.spread_levels, ell.perimeter())
    spread_max = gates.max_hc_spread_rel
    if spread_max is not None and not abs(details["hc_spread_rel"]) <= spread_max:
        return None, (f"head outline is uncertain: it moves {details['hc_spread_rel']:.1%} of HC between "
                      f"p = {gates.spread_levels[0]} and {gates.spread_levels[1]}, need <= {spread_max:.1%}; "
                      "take a frame with a sharper skull echo"), details
    return ell, None, details


def quality_score(d: dict[str, float], gates: GateSettings) -> float:
    """min of four 0..1 scores; the ramps were set on HC18 val subjects, where mask confidence was the best
    predictor of HC error (Spearman -0.41): confidence 0.88 -> 0 .. 0.95 -> 1; IoU 0.85 -> 0 .. 0.95 -> 1;
    fit residual 6 % -> 0 .. 3 % of the semi-minor axis -> 1; fraction of the outline inside the frame."""
    conf_score = np.clip((d["confidence"] - 0.88) / 0.07, 0, 1)
    iou_score = np.clip((d["iou"] - gates.iou_gate) / (0.95 - gates.iou_gate), 0, 1)
    resid_score = np.clip(1.0 - (d["rms_rel"] - 0.03) / 0.03, 0, 1)
    return float(min(conf_score, iou_score, resid_score, d["inside_frac"]))


def measure_head(prob: np.ndarray, pixel_mm: float, model: ModelRef | None,
                 gates: GateSettings = GateSettings()) -> HeadResult:
    """The single entry point: probability map (frame coords) + pixel size -> HeadResult."""
    px = check_pixel_size(pixel_mm)
    fov = field_of_view_problem(prob.shape, px)
    if fov is not None:
        return no_measurement(fov, model, flag=FLAG_OUT_OF_RANGE)
    ell, reason, details = fit_head(prob, gates)
    if ell is None:
        return no_measurement(reason or "no head found", model, details)
    q = quality_score(details, gates)
    flag = FLAG_OK if q >= gates.low_quality_below else FLAG_LOW_QUALITY
    why = None if flag == FLAG_OK else f"quality {q:.2f} below {gates.low_quality_below} ({_weakest(details)})"
    vals = {"hc": round(ell.perimeter() * px, 2), "bpd": round(2 * ell.b * px, 2), "ofd": round(2 * ell.a * px, 2)}
    impossible = [p for p in (length_problem(n, v, px) for n, v in vals.items()) if p is not None]
    if impossible:  # one ellipse, one pixel size: if one length is impossible the scale is wrong for all three
        return no_measurement("; ".join(impossible), model, details, flag=FLAG_OUT_OF_RANGE)
    meas = {n: Measurement(n, v, "mm", round(q, 3), flag, model, "ellipse_fit_outer_outer", why)
            for n, v in vals.items()}
    return HeadResult("measured", None, meas["hc"], meas["bpd"], meas["ofd"], ell, q, details)


def _weakest(d: dict[str, float]) -> str:
    return ", ".join(f"{k} {d[k]:.2f}" for k in ("confidence", "iou", "rms_rel", "inside_frac") if k in d)
