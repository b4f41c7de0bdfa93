"""`fetal-edge` entry point. Each subcommand is a module in edge/commands/ with
`register(subparsers)` that adds its parser and sets `func(args) -> int`.

Exit codes scripts can rely on: 0 ok, 1 other error, 2 config, 3 input, 4 model, 5 backend, 6 sync,
10 ran but gave no measurement (see edge.commands.measure), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import pkgutil
import sys
from types import ModuleType
from typing import Sequence

from edge import __version__
from edge.errors import FetalEdgeError


def discover(package: ModuleType) -> list[ModuleType]:
    return [importlib.import_module(f"{package.__name__}.{m.name}")
            for m in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name)]


def build_parser(prog: str, description: str, package: ModuleType, version: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"{prog} {version}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in discover(package):
        module.register(sub)
    return parser


def run_cli(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except FetalEdgeError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"status": "error", "error": type(exc).__name__, "reason": str(exc)}))
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    import edge.commands

    parser = build_parser("fetal-edge", "fetal ultrasound AI on the device", edge.commands, __version__)
    return run_cli(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
