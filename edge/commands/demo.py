"""`fetal-edge demo`: what `make demo` runs. On a fresh clone (no shared data needed) one exam on a
synthetic sweep, or on a path / URI the user gives, with the shipped models; writes the exam JSON,
the results store, an overlay video and the printed report to one folder and says where they went.
`--config` runs it with a firmware config's backend (e.g. TensorRT on a Jetson, scripts/jetson-smoke.sh),
never its results store.

The demo has no real pregnancy, so unless --lmp/--edd/--dating-ga is given it assumes one dated
DEMO_GA_DAYS (23w0d, where the synthetic head sits) before today, and says so: that is what lets it show
centiles and alerts. --no-dates shows the same exam undated (GA from biometry, size not judged)."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from edge.clinical.dating import Pregnancy, format_ga
from edge.clinical.inputs import add_pregnancy_args, parse_given, pregnancy_from_args
from edge.commands.run import clinical_summary
from edge.config import Config, load_config, parse_config
from edge.pipeline.app import build_runner
from edge.sources import open_source

DEFAULT_SOURCE = "synthetic://sweep?frames=360&fps=30"
DEMO_GA_DAYS = 161   # 23w0d: the synthetic sweep's head (HC about 21 cm) is an average head of that age


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the pipeline on a synthetic sweep (or a given input) and show the result")
    p.add_argument("source", nargs="?", default=DEFAULT_SOURCE,
                   help="video, image folder, DICOM or URI (default: a synthetic sweep made on the fly)")
    p.add_argument("--out", default="demo_out", help="output folder (default: ./demo_out)")
    p.add_argument("--pixel-size", type=float, metavar="MM", help="mm per pixel of the given input")
    p.add_argument("--config", help="firmware config whose backend and engines run the demo (default: onnxruntime "
                                    "on the CPU); its store is replaced by the output folder's")
    p.add_argument("--no-dates", action="store_true", help="no assumed dates: GA from biometry, size not judged")
    add_pregnancy_args(p)
    p.set_defaults(func=main)


def demo_config(path: str | None, store: Path) -> Config:
    """The default config, or the given firmware config, with the demo's own results store (a demo exam must
    never land in a clinic's store, nor be synced from it)."""
    if path is None:
        return parse_config({"store": {"path": str(store)}})
    cfg = load_config(path)
    return Config(cfg.path, {**cfg.sections, "store": replace(cfg.section("store"), path=Path(store))})


def demo_pregnancy(args: argparse.Namespace, today: date) -> tuple[Pregnancy, str]:
    """The pregnancy the demo uses and the line that says where it came from."""
    if args.lmp or args.edd or args.dating_ga or args.no_dates:
        preg = pregnancy_from_args(args, Pregnancy(), today)
        return preg, "dates as given" if preg.basis else "no dates (--no-dates): GA from biometry, size not judged"
    lmp = today - timedelta(days=DEMO_GA_DAYS)
    return (Pregnancy(lmp=lmp), f"demo dates: an assumed LMP {lmp} ({format_ga(DEMO_GA_DAYS)} today) so that "
                                f"size for GA can be judged; give --lmp/--edd/--dating-ga, or --no-dates")


def main(args: argparse.Namespace) -> int:
    from edge.store import ResultStore

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = demo_config(args.config, out / "results.sqlite")
    pregnancy, dates_line = demo_pregnancy(args, date.today())
    given = parse_given(args.given)
    t0 = time.monotonic()
    store = ResultStore(out / "results.sqlite")
    try:
        runner = build_runner(cfg, store, args.pixel_size, out / "overlay.mp4", given, pregnancy)
        outcome = runner.run(open_source(args.source), threading.Event(),
                             lambda s: print(s.line(), file=sys.stderr, flush=True))
        image = store.image_for(outcome.exam.result_id)
    finally:
        store.close()
    exam = outcome.exam.to_dict()
    (out / "exam.json").write_text(json.dumps(exam, indent=1), encoding="utf-8")
    print(f"\nfetal-edge demo: {outcome.exam.frames} frames from {args.source} in {time.monotonic() - t0:.1f} s "
          f"({outcome.exam.fps or 0:.0f} fps analysed), {outcome.end_reason}")
    print(f"planes seen: {exam['planes_seen']}")
    print(dates_line)
    print(clinical_summary(exam))
    report = _report(exam, out, image)
    print(f"output: {out.resolve()}/exam.json (the exam), results.sqlite (the store), overlay.mp4 (overlay video)"
          + (f", {report.name} (the printed record)" if report else ""))
    return 0


def _report(exam: dict[str, Any], out: Path, image: bytes | None) -> Path | None:
    from edge.errors import InputError
    from edge.printout import render_report

    try:
        return render_report(exam, out / "report.pdf", "fetal-edge demo clinic", image)
    except InputError as exc:   # e.g. fpdf2 missing: the demo still shows the exam
        print(f"report not written: {exc}", file=sys.stderr)
        return None
