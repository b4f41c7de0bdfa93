"""`fetal-edge classify PATH... [--json] [--model DIR]`: the standard plane of still images.

PATH is an image or a folder (its images, sorted by name). With --json, one JSON object per line:
{"file", "plane" (one of the six planes or "unknown"), "brain_plane" (or null), "confidence", "best" (the
top plane even when the answer is unknown; null if the frame was refused before the model), "probs" (the
six planes' calibrated probabilities, {} if refused), "junk" (the "not an ultrasound view" probability),
"model", "reason" (why unknown, else null)}. `best` and `probs` let a user apply a threshold of their own.
An unreadable file gives a line with plane "unknown" and the reason; it never stops the run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from edge.errors import InputError
from edge.imageio import read_color
from edge.planes.classifier import DEFAULT_MODEL, PlaneClassifier
from edge.planes.taxonomy import UNKNOWN

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="standard plane of images (or folders of images)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image file or folder of images")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model bundle dir or shipped name ({DEFAULT_MODEL})")
    p.add_argument("--threads", type=int, default=2, help="onnxruntime CPU threads (default 2)")
    p.add_argument("--precision", choices=("auto", "fp32", "int8"), default="auto",
                   help="which graph of the bundle runs (auto: fp32 when the bundle has it, faster on a CPU)")
    p.set_defaults(func=run)


def expand(paths: list[str]) -> list[Path]:
    """Files as given, folders expanded to their images; a missing path is kept (it gets an error line)."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise InputError(f"folder {p} holds no images ({', '.join(IMAGE_SUFFIXES)})")
            out.extend(found)
        else:
            out.append(p)
    return out


def classify_file(clf: PlaneClassifier, path: Path) -> dict[str, Any]:
    try:
        pred = clf.classify(read_color(path))
    except InputError as exc:
        pred = clf.refuse(str(exc))
    return {"file": str(path), **pred.to_dict()}


def run(args: argparse.Namespace) -> int:
    if args.threads < 1:
        raise InputError(f"--threads {args.threads} must be >= 1")
    files = expand(args.paths)
    clf = PlaneClassifier(args.model, threads=args.threads, precision=args.precision)
    log.info("classify: model %s %s, threshold %.2f, temperature %.2f, %d files", clf.ref.name,
             clf.ref.version, clf.threshold, clf.temperature, len(files))
    try:
        for path in files:
            print(format_row(classify_file(clf, path), args.json), flush=True)
    except BrokenPipeError:  # reader went away (e.g. `| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def format_row(row: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(row)
    sub = f" / {row['brain_plane']}" if row["brain_plane"] else ""
    why = f"  ({row['reason']})" if row["reason"] else ""
    return f"{row['file']}\t{row['plane']}{sub}\t{row['confidence']:.2f}{why}"
