"""`fetal-edge demo`: what `make demo` runs. On a fresh clone (no shared data needed) one exam on a
synthetic sweep, or on a path / URI the user gives, with the shipped models; writes the exam JSON,
the results store and an overlay video to one folder and says where they went. `--config` runs it with a
firmware config's backend (e.g. TensorRT on a Jetson, scripts/jetson-smoke.sh), never its results store."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from edge.config import Config, load_config, parse_config
from edge.pipeline.app import build_runner
from edge.sources import open_source

DEFAULT_SOURCE = "synthetic://sweep?frames=360&fps=30"


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the pipeline on a synthetic sweep (or a given input) and show the result")
    p.add_argument("source", nargs="?", default=DEFAULT_SOURCE,
                   help="video, image folder, DICOM or URI (default: a synthetic sweep made on the fly)")
    p.add_argument("--out", default="demo_out", help="output folder (default: ./demo_out)")
    p.add_argument("--pixel-size", type=float, metavar="MM", help="mm per pixel of the given input")
    p.add_argument("--config", help="firmware config whose backend and engines run the demo (default: onnxruntime "
                                    "on the CPU); its store is replaced by the output folder's")
    p.set_defaults(func=main)


def demo_config(path: str | None, store: Path) -> Config:
    """The default config, or the given firmware config, with the demo's own results store (a demo exam must
    never land in a clinic's store, nor be synced from it)."""
    if path is None:
        return parse_config({"store": {"path": str(store)}})
    cfg = load_config(path)
    return Config(cfg.path, {**cfg.sections, "store": replace(cfg.section("store"), path=Path(store))})


def main(args: argparse.Namespace) -> int:
    from edge.store import ResultStore

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = demo_config(args.config, out / "results.sqlite")
    t0 = time.monotonic()
    store = ResultStore(out / "results.sqlite")
    try:
        runner = build_runner(cfg, store, args.pixel_size, out / "overlay.mp4")
        outcome = runner.run(open_source(args.source), threading.Event(),
                             lambda s: print(s.line(), file=sys.stderr, flush=True))
    finally:
        store.close()
    exam = outcome.exam.to_dict()
    (out / "exam.json").write_text(json.dumps(exam, indent=1), encoding="utf-8")
    print(f"\nfetal-edge demo: {outcome.exam.frames} frames from {args.source} in {time.monotonic() - t0:.1f} s "
          f"({outcome.exam.fps or 0:.0f} fps analysed), {outcome.end_reason}")
    print(f"planes seen: {exam['planes_seen']}")
    for name, m in exam["measurements"].items():
        value = f"{m['value']} {m['unit']}" if m["value"] is not None else "-"
        if m["unit"] == "d" and m["value"] is not None:  # GA: also in weeks + days, as clinicians read it
            value += f" ({int(m['value'] // 7)}w{int(m['value'] % 7)}d)"
        print(f"  {name.upper():4s} {value:>20s}  [{m['flag']}] {m['reason'] or ''}")
    print(f"output: {out.resolve()}/exam.json (the exam), results.sqlite (the store), overlay.mp4 (overlay video)")
    return 0
