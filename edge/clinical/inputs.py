"""Clinical inputs a user types on the command line: what is known before the scan, and caliper values.

`--lmp`, `--edd`, `--dating-ga` (one of them; singleton pregnancies only) override the config's `clinical:`
section for one exam; `--given ac=MM,fl=MM` are lengths read off the scanner's own calipers (this device
has no abdomen or femur model). Every value is checked before the exam starts, with a message naming the
value and what is valid, so nothing is stored half-way. A typed length must be one a fetus can have: the
device's one physical-plausibility rule (edge.clinical.physical), as for measured lengths.
"""

from __future__ import annotations

import argparse
import math
from datetime import date
from typing import Any

from edge.clinical.dating import Pregnancy, pregnancy_from
from edge.clinical.physical import length_problem
from edge.errors import InputError

GIVEN_NAMES = ("ac", "fl")
def add_pregnancy_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("what is known before the scan (singleton pregnancies only; overrides the config)")
    g.add_argument("--lmp", metavar="YYYY-MM-DD", help="first day of the last menstrual period")
    g.add_argument("--edd", metavar="YYYY-MM-DD", help="expected date of delivery already established")
    g.add_argument("--dating-ga", metavar="GA@DATE", help="GA from an earlier dating scan and its date, "
                                                          "e.g. 12w3d@2026-07-20")
    p.add_argument("--given", metavar="ac=MM,fl=MM",
                   help="AC and/or FL from the scanner's own calipers (mm): gives EFW and its centile, marked manual")


def pregnancy_from_args(args: argparse.Namespace, configured: Pregnancy, on: date) -> Pregnancy:
    """The CLI's pregnancy if any flag was given, else the config's; checked against the exam date."""
    if args.lmp or args.edd or args.dating_ga:
        preg = pregnancy_from(args.lmp, args.edd, args.dating_ga)
    else:
        preg = configured
    preg.established_ga(on)       # an impossible date is refused now, before any scan
    return preg


def parse_lengths(tokens: Any, names: tuple[str, ...], flag: str) -> dict[str, float]:
    """'ac=250,fl=55' (or ['hc=250', 'bpd=70']) -> {'ac': 250.0, ...}; InputError naming the bad part and
    what is valid: a name from `names`, a number of mm a fetus can have (edge.clinical.physical)."""
    parts = [p.strip() for t in ([tokens] if isinstance(tokens, str) else tokens or []) for p in str(t).split(",")]
    out: dict[str, float] = {}
    for part in (p for p in parts if p):
        name, sep, raw = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in names:
            raise InputError(f"{flag} {part!r}: write name=mm with name one of {list(names)}, e.g. "
                             f"{flag} {names[0]}=250")
        if name in out:
            raise InputError(f"{flag} names {name} twice")
        try:
            value = float(raw)
        except ValueError:
            raise InputError(f"{flag} {name}={raw.strip()!r}: not a number of millimetres") from None
        why = ("must be a finite number > 0" if not math.isfinite(value) or value <= 0 else
               length_problem(name, value, cause="check the value (millimetres, not centimetres?)"))
        if why:
            raise InputError(f"{flag} {name}={raw.strip()} mm: {why}")
        out[name] = value
    return out


def parse_given(text: Any) -> dict[str, float]:
    """--given ac=MM,fl=MM -> {'ac': ..., 'fl': ...} ({} when not given)."""
    return parse_lengths(text, GIVEN_NAMES, "--given") if text else {}
