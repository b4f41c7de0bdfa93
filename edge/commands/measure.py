"""`fetal-edge measure IMAGE --pixel-size MM`: head circumference, BPD, OFD and GA from one still frame.

Prints one JSON object on stdout (stable keys, outside tools parse it):
  status ("measured" | "no_measurement"), reason, hc_mm, bpd_mm, ofd_mm, caliper, ga_weeks, ga_days,
  ga_method, ga_flag, ga_reason, quality, flag, model {name, version, sha256}, measurements {hc, bpd, ofd, ga},
  image, pixel_size_mm, overlay.
A head no fetus has, or a frame no probe makes, at this pixel size (edge.clinical.physical) is status
"no_measurement" with flag "out_of_range" and a reason naming the pixel size: no number is printed.
Exit codes: 0 measured, 10 no measurement (reason given), 3 bad input, 4 bad model (edge.cli).
With --json, errors are also printed as a JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

EXIT_NO_MEASUREMENT = 10
DEFAULT_GA_METHOD = "hadlock1984_hc"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("measure", help="measure the fetal head (HC, BPD, OFD, GA) on one image")
    p.add_argument("image", type=Path, help="PNG/JPEG/BMP/TIFF frame of a trans-thalamic head plane")
    p.add_argument("--pixel-size", type=float, required=True, metavar="MM", help="millimetres per pixel (0-2]")
    p.add_argument("--overlay", type=Path, default=None, metavar="OUT.png", help="write a checkable overlay PNG")
    p.add_argument("--json", action="store_true", help="errors also as a JSON object on stdout")
    p.add_argument("--model", default="head-seg", help="shipped model name or bundle directory (default head-seg)")
    p.add_argument("--ga-method", default=DEFAULT_GA_METHOD, help=f"GA formula (default {DEFAULT_GA_METHOD})")
    p.add_argument("--threads", type=int, default=2, help="inference threads")
    p.add_argument("--precision", choices=("auto", "fp32", "int8"), default="auto",
                   help="which graph of the bundle runs (auto: fp32 when the bundle has it, faster on a CPU)")
    p.set_defaults(func=run)


def _ga(result: Any, method: str) -> Any:
    from edge.clinical import GA_METHODS, estimate_ga
    from edge.errors import InputError

    if method not in GA_METHODS:
        raise InputError(f"--ga-method {method!r} is not one of {sorted(GA_METHODS)}")
    return estimate_ga(method, hc=result.hc, bpd=result.bpd, ofd=result.ofd)


def report(result: Any, ga: Any, model: Any, image: Path, pixel_mm: float, overlay: Path | None) -> dict[str, Any]:
    """The stable JSON object of one measurement."""
    ga_days = ga.value if ga is not None else None
    return {
        "status": result.status, "reason": result.reason,
        "hc_mm": result.hc.value, "bpd_mm": result.bpd.value, "ofd_mm": result.ofd.value,
        "caliper": "outer-to-outer",
        "ga_weeks": round(ga_days / 7.0, 1) if ga_days is not None else None,
        "ga_days": ga_days, "ga_method": ga.method if ga is not None else None,
        "ga_flag": ga.flag if ga is not None else None, "ga_reason": ga.reason if ga is not None else None,
        "quality": round(result.quality, 3), "flag": result.hc.flag,
        "model": model.to_dict(),
        "measurements": {m.name: m.to_dict() for m in (result.hc, result.bpd, result.ofd, ga) if m is not None},
        # strict JSON has no Infinity: a value the fit could not give (e.g. an unbounded spread) is null
        "details": {k: round(v, 4) if math.isfinite(v) else None for k, v in result.details.items()},
        "image": str(image), "pixel_size_mm": pixel_mm,
        "overlay": str(overlay) if overlay else None,
    }


def run(args: argparse.Namespace) -> int:
    from edge.biometry.measure import check_pixel_size, measure_head, no_measurement
    from edge.biometry.overlay import write_overlay
    from edge.biometry.segment import HeadSegmenter
    from edge.frame_check import check_frame
    from edge.imageio import read_gray

    pixel_mm = check_pixel_size(args.pixel_size)
    frame = read_gray(args.image)
    segmenter = HeadSegmenter(args.model, threads=args.threads, precision=args.precision)
    verdict = check_frame(frame)
    if not verdict.ok:
        result = no_measurement(f"frame refused: {verdict.reason}", segmenter.ref)
    else:
        result = measure_head(segmenter(frame).prob, pixel_mm, segmenter.ref)
    ga = _ga(result, args.ga_method) if result.status == "measured" else None
    if args.overlay:
        extra = []
        if ga is not None:
            extra = [f"GA {ga.value / 7:.1f} wk ({ga.method})" if ga.value is not None
                     else f"GA: none ({ga.flag}, {ga.method})"]
        write_overlay(args.overlay, frame, result, extra)
    print(json.dumps(report(result, ga, segmenter.ref, args.image, pixel_mm, args.overlay)))
    return 0 if result.status == "measured" else EXIT_NO_MEASUREMENT
