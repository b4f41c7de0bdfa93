"""`fetal-compress ship BUNDLE`: verify a pipeline bundle and install it into edge/models/ (compress.pipeline.ship)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ship", help="verify a bundle (checksums, gates, newer version) and install it into edge/models/")
    p.add_argument("bundle", type=Path, help="bundle directory written by `fetal-compress pipeline` (its `output`)")
    p.add_argument("--models-dir", type=Path, default=None, help="where models are installed (default: edge/models)")
    p.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compress.pipeline.ship import ship
    from edge.manifest import load_manifest
    from edge.models import MODELS_DIR

    target = ship(args.bundle, args.models_dir or MODELS_DIR)
    m = load_manifest(target, verify=False)
    if args.json:
        print(json.dumps({"status": "ok", "installed": str(target), "name": m.name, "version": m.version}))
    else:
        print(f"installed {m.name} {m.version} into {target}")
    return 0
