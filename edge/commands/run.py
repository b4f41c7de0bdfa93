"""`fetal-edge run --source URI [--config FILE] [--record OUT.mp4] [--lmp DATE | --edd DATE | --dating-ga GA@DATE]
[--given ac=MM,fl=MM]`: one exam from a live probe or a recording.

What is known before the scan (singleton pregnancies only) makes the exam's GA the established one, so
centiles and alerts can be judged; without it the exam dates from biometry and says size cannot be judged.

Live status line on stderr; Ctrl-C or SIGTERM stops cleanly (the exam so far is stored); a JSON
summary of the exam on stdout at the end. Exit codes: 0 complete, 3 the source stalled or failed
(partial result stored), 130 stopped by the user (partial result stored), 6 the store refused the
exam (the JSON on stdout is then its only copy), and the usual error codes (2 config, 3 input,
4 model, 5 backend) when no exam could start.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from edge.clinical.inputs import add_pregnancy_args, parse_given, pregnancy_from_args
from edge.errors import InputError, SyncError
from edge.pipeline.app import build_runner, config_from
from edge.pipeline.runner import RunOutcome
from edge.pipeline.status import Status
from edge.sources import open_source


def register(sub: Any) -> None:
    from edge.sources import describe_sources

    p = sub.add_parser("run", help="run one exam from a probe, stream or recording",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="frame sources (options as a query string, e.g. "
                              "folder:///data/heads?spacing_csv=/data/pixel_sizes.csv&fps=10; or source.uri and "
                              "source.options in the config; docs/sources.md):\n" + describe_sources())
    p.add_argument("--source", help="frame source URI or path, options in its query string (default: source.uri "
                                    "of the config; the sources and their options are listed below)")
    p.add_argument("--config", help="firmware config YAML (see firmware_configs/)")
    p.add_argument("--record", metavar="OUT.mp4", help="write an overlay video (text outside the sector blanked)")
    p.add_argument("--pixel-size", type=float, metavar="MM", help="mm per pixel for this exam (overrides presets)")
    p.add_argument("--store", metavar="DB", help="results store path (default: store.path of the config)")
    p.add_argument("--quiet", action="store_true", help="no status line")
    add_pregnancy_args(p)
    p.set_defaults(func=main)


def status_printer(quiet: bool) -> Any:
    tty = sys.stderr.isatty()
    def show(status: Status) -> None:
        if not quiet:
            print(("\r" if tty else "") + status.line(), end="" if tty else "\n", file=sys.stderr, flush=True)
    return show


def stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: Any) -> None:
        stop.set()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


def summary(outcome: RunOutcome, store_path: Path, record: str | None) -> dict[str, Any]:
    return {"exam": outcome.exam.to_dict(), "end_reason": outcome.end_reason,
            "stored_in": str(store_path) if outcome.stored else None, "store_warnings": outcome.store_warnings,
            "recording": record}


def clinical_summary(exam: dict[str, Any]) -> str:
    """GA, EDD, centiles and alerts in a few lines (run and demo print it)."""
    d = exam["dating"]
    if d["ga_text"]:
        pm = f" +/- {d['precision_days']:g} d" if d.get("precision_days") else ""
        lines = [f"GA {d['ga_text']}{pm} ({d['source']}: {d['method']}), EDD {d['edd']}"]
    else:
        lines = ["GA: none (" + (exam["measurements"].get("ga", {}).get("reason") or "no biometry") + ")"]
    for name, m in exam["measurements"].items():
        if name in ("ga",) or m["value"] is None:
            continue
        cent = (f"centile {m['centile']:g} ({m['standard']})" if m.get("centile") is not None
                else f"no centile: {m.get('centile_reason')}")
        lines.append(f"  {name.upper():4s} {m['value']:g} {m['unit']}  {cent}")
    lines += [f"ALERT [{a['severity']}] {a['rule']}: {a['message']}" for a in exam["alerts"]]
    lines += [f"EXAM FLAG: {f}" for f in exam["exam_flags"]]
    return "\n".join(lines)


def exit_code(outcome: RunOutcome) -> int:
    if not outcome.stored:
        return SyncError.exit_code  # the summary on stdout is then the only copy of the exam
    if outcome.exam.status == "complete":
        return 0
    return 130 if outcome.end_reason in ("stopped by the user", "interrupted") else InputError.exit_code


def main(args: argparse.Namespace) -> int:
    from edge.store import ResultStore

    from datetime import date

    cfg = config_from(args.config)
    given = parse_given(args.given)
    pregnancy = pregnancy_from_args(args, cfg.section("clinical").pregnancy, date.today())
    src = cfg.section("source")
    store_path = Path(args.store) if args.store else cfg.section("store").path
    store = ResultStore(store_path, cfg.section("store"))
    try:
        runner = build_runner(cfg, store, args.pixel_size, args.record, given, pregnancy)
        # source.options belong to source.uri; a --source given here carries its own options in its query
        source = open_source(args.source) if args.source else open_source(src.uri, **src.options)
        if not args.quiet:
            print(f"source {source.uri} ({source.scheme}, {'live' if source.live else 'recording'}) options in force: "
                  f"{source.options}", file=sys.stderr)
        stop = threading.Event()
        stop_on_signals(stop)
        outcome = runner.run(source, stop, status_printer(args.quiet))
    finally:
        store.close()
    if not args.quiet and sys.stderr.isatty():
        print(file=sys.stderr)
    if not args.quiet:
        print(clinical_summary(outcome.exam.to_dict()), file=sys.stderr)
    print(json.dumps(summary(outcome, store_path, args.record), indent=1))
    return exit_code(outcome)
