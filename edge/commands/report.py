"""`fetal-edge report RESULT_ID --out report.pdf`: a one-page PDF for the mother's hand-held record.

Clinic, date, GA and EDD, measurements with centiles, alerts in a midwife's words, the best frame with its
ellipse (kept on the device, printed, never synced), model versions, and "AI-assisted; to be reviewed by a
trained sonographer" until reviewed. For a review result the frame of the exam it supersedes is used.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="print a one-page PDF record of a stored result")
    p.add_argument("result_id")
    p.add_argument("--out", required=True, metavar="REPORT.pdf", help="where to write the PDF")
    p.add_argument("--config", help="firmware config YAML (store path, clinical.clinic_name)")
    p.add_argument("--store", metavar="DB", help="results store path (default: store.path of the config)")
    p.add_argument("--json", action="store_true", help="errors also as a JSON object on stdout")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from edge.commands.review import find_result
    from edge.pipeline.app import config_from
    from edge.printout import render_report
    from edge.store import ResultStore

    cfg = config_from(args.config)
    store_path = Path(args.store) if args.store else cfg.section("store").path
    clinic = cfg.section("clinical").clinic_name or f"Clinic {cfg.section('sync').clinic_id}"
    with ResultStore(store_path, cfg.section("store")) as store:
        exam = find_result(store, args.result_id, store_path)
        image = store.image_for(args.result_id)
    out = render_report(exam, args.out, clinic, image)
    print(json.dumps({"status": "written", "out": str(out), "result_id": args.result_id,
                      "frame_printed": image is not None}))
    return 0
