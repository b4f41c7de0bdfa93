"""`fetal-compress` entry point; subcommands are modules in compress/commands/ (see edge.cli)."""

from __future__ import annotations

import sys
from typing import Sequence

from compress import __version__
from edge.cli import build_parser, run_cli


def main(argv: Sequence[str] | None = None) -> int:
    import compress.commands

    parser = build_parser("fetal-compress", "workstation model pipeline", compress.commands, __version__)
    return run_cli(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
