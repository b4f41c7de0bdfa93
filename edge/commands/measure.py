"""`fetal-edge measure IMAGE --pixel-size MM [--lmp DATE | --edd DATE | --dating-ga GA@DATE] [--given ac=MM,fl=MM]`:
head circumference, BPD, OFD, GA (and EFW with a given AC) from one still frame, judged for GA when the
pregnancy's dates are known (singleton only).

Prints one JSON object on stdout (stable keys, outside tools parse it):
  status ("measured" | "no_measurement"), reason, hc_mm, bpd_mm, ofd_mm, caliper, ga_weeks, ga_days,
  ga_method, ga_flag, ga_reason, quality, flag, model {name, version, sha256},
  measurements {hc, bpd, ofd, ac, fl, ga, efw} (each with centile, z, standard, centile_reason, source),
  dating {ga_days, ga_text, precision_days, edd, source, method}, pregnancy, alerts [...],
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

from edge.clinical.inputs import add_pregnancy_args

EXIT_NO_MEASUREMENT = 10
DEFAULT_GA_METHOD = "best_ga"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("measure", help="measure the fetal head (HC, BPD, OFD, GA) on one image")
    p.add_argument("image", type=Path, help="PNG/JPEG/BMP/TIFF frame of a trans-thalamic head plane")
    p.add_argument("--pixel-size", type=float, required=True, metavar="MM", help="millimetres per pixel (0-2]")
    p.add_argument("--overlay", type=Path, default=None, metavar="OUT.png", help="write a checkable overlay PNG")
    p.add_argument("--json", action="store_true", help="errors also as a JSON object on stdout")
    p.add_argument("--model", default="head-seg", help="shipped model name or bundle directory (default head-seg)")
    p.add_argument("--ga-method", default=DEFAULT_GA_METHOD, help=f"GA formula when no dates are known "
                                                                  f"(default {DEFAULT_GA_METHOD})")
    p.add_argument("--config", help="firmware config YAML (clinical: dates for a kiosk, alert rules)")
    p.add_argument("--threads", type=int, default=2, help="inference threads")
    p.add_argument("--precision", choices=("auto", "fp32", "int8"), default="auto",
                   help="which graph of the bundle runs (auto: fp32 when the bundle has it, faster on a CPU)")
    add_pregnancy_args(p)
    p.set_defaults(func=run)


def _clinical(result: Any, args: argparse.Namespace, clinical: Any, pregnancy: Any, given: dict[str, float]) -> Any:
    """GA, EFW, centiles and alerts of one frame's head (edge.clinical.assess); None without a head."""
    from datetime import date

    from edge.clinical.assess import assess
    from edge.errors import InputError
    from edge.pipeline.exam import given_measurement
    from edge.settings.pipeline import GA_CHOICES

    if args.ga_method not in GA_CHOICES:
        raise InputError(f"--ga-method {args.ga_method!r} is not one of {list(GA_CHOICES)}")
    if result.status != "measured":
        return None
    lengths = {"hc": result.hc, "bpd": result.bpd, "ofd": result.ofd,
               **{n: given_measurement(n, v) for n, v in given.items()}}
    return assess(lengths, pregnancy, date.today(), args.ga_method, rules=clinical.alerts)


def report(result: Any, found: Any, model: Any, image: Path, pixel_mm: float, overlay: Path | None,
           pregnancy: Any = None) -> dict[str, Any]:
    """The stable JSON object of one measurement (found: the clinical Assessment, None without a head)."""
    from edge.clinical.dating import Pregnancy

    pregnancy = pregnancy or Pregnancy()
    ga = found.measurements["ga"] if found is not None else None
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
        "measurements": ({n: m.to_dict() for n, m in found.measurements.items()} if found is not None else
                         {m.name: m.to_dict() for m in (result.hc, result.bpd, result.ofd)}),
        "dating": found.dating if found is not None else None,
        "pregnancy": pregnancy.to_dict(),
        "alerts": found.alerts if found is not None else [],
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

    from datetime import date

    from edge.clinical.inputs import parse_given, pregnancy_from_args
    from edge.pipeline.app import config_from

    pixel_mm = check_pixel_size(args.pixel_size)
    clinical = config_from(args.config).section("clinical")
    given = parse_given(args.given)
    pregnancy = pregnancy_from_args(args, clinical.pregnancy, date.today())
    frame = read_gray(args.image)
    segmenter = HeadSegmenter(args.model, threads=args.threads, precision=args.precision)
    verdict = check_frame(frame)
    if not verdict.ok:
        result = no_measurement(f"frame refused: {verdict.reason}", segmenter.ref)
    else:
        result = measure_head(segmenter(frame).prob, pixel_mm, segmenter.ref)
    found = _clinical(result, args, clinical, pregnancy, given)
    if args.overlay:
        extra = []
        if found is not None:
            d, hc = found.dating, found.measurements["hc"]
            extra = [f"GA {d['ga_text']} ({d['source']})" if d["ga_text"] else "GA: none"]
            extra += [f"HC centile {hc.centile:g}" if hc.centile is not None else "HC centile: not judged"]
            extra += [f"ALERT {a['rule']}" for a in found.alerts]
        write_overlay(args.overlay, frame, result, extra)
    print(json.dumps(report(result, found, segmenter.ref, args.image, pixel_mm, args.overlay, pregnancy)))
    return 0 if result.status == "measured" else EXIT_NO_MEASUREMENT
