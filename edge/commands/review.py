"""`fetal-edge review RESULT_ID --accept | --correct hc=MM [bpd=MM ...] [--note TEXT] [--by NAME]`

A trained person accepts or corrects a stored exam on the device. The stored result is never edited: the
review is a new result that supersedes it, stored (and later synced) exactly once like any result. Refused,
with nothing stored: an unknown result id, a result that was already reviewed (review the newest one), a
correction outside what a fetus can measure, a note or name that looks like an identifier. Prints the new
result as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edge.sync.checks import UUID_RE


def register(sub: Any) -> None:
    p = sub.add_parser("review", help="accept or correct a stored exam (a new result that supersedes it)")
    p.add_argument("result_id", help="the result to review (see `fetal-edge status` or the run's JSON)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--accept", action="store_true", help="the exam is right as it is")
    what.add_argument("--correct", nargs="+", metavar="NAME=MM",
                      help="corrected lengths in mm (hc, bpd, ofd, ac, fl; BPD outer-to-outer), e.g. hc=250 bpd=70")
    p.add_argument("--note", help="a short note (no names, dates of birth, phone or ID numbers)")
    p.add_argument("--by", metavar="NAME", help="who reviewed (a role or staff name; it is synced)")
    p.add_argument("--config", help="firmware config YAML (store path, clinical settings)")
    p.add_argument("--store", metavar="DB", help="results store path (default: store.path of the config)")
    p.add_argument("--json", action="store_true", help="errors also as a JSON object on stdout")
    p.set_defaults(func=main)


def find_result(store: Any, result_id: str, store_path: Path) -> dict[str, Any]:
    """The stored exam, or InputError naming the id and where it looked."""
    from edge.errors import InputError

    if not UUID_RE.match(result_id or ""):
        raise InputError(f"result id {result_id!r} is not a result id (a lowercase UUID like "
                         "3f2a...-...); see `fetal-edge status`")
    exam = store.get(result_id)
    if exam is None:
        raise InputError(f"no result {result_id} in {store_path} (unknown here, or pruned after it was synced: "
                         f"the receiver holds it)")
    return exam


def main(args: argparse.Namespace) -> int:
    from edge.clinical.inputs import parse_lengths
    from edge.errors import InputError
    from edge.pipeline.app import config_from
    from edge.pipeline.review import CORRECTABLE, review
    from edge.results import utc_now
    from edge.store import ResultStore
    from edge.sync.checks import PayloadError
    from edge.sync.payload import build_payload

    cfg = config_from(args.config)
    corrections = parse_lengths(args.correct, CORRECTABLE, "--correct") if args.correct else None
    store_path = Path(args.store) if args.store else cfg.section("store").path
    with ResultStore(store_path, cfg.section("store")) as store:
        original = find_result(store, args.result_id, store_path)
        later = store.superseded_by(args.result_id)
        if later is not None:
            raise InputError(f"result {args.result_id} was already reviewed: result {later} supersedes it; "
                             f"review {later} instead")
        p, clinical = cfg.section("pipeline"), cfg.section("clinical")
        new = review(original, corrections=corrections, note=args.note, by=args.by, ga_method=p.ga_method,
                     efw_method=p.efw_method, rules=clinical.alerts)
        try:
            build_payload(new, utc_now())     # what will be synced is valid before anything is stored
        except PayloadError as exc:
            raise InputError(f"the review cannot be stored: {exc}") from None
        receipt = store.save(new)
    print(json.dumps({"status": "stored", "result_id": new.result_id, "supersedes": new.supersedes,
                      "review": new.review, "stored_in": str(store_path), "warnings": receipt.warnings,
                      "exam": new.to_dict()}, indent=1))
    return 0
