"""`fetal-edge export RESULT_ID --fhir [--out FILE]`: one stored result as a FHIR R4 Bundle (JSON).

The same Bundle the receiver serves (edge.sync.fhir.to_fhir_bundle on the result's sync payload): a
DiagnosticReport, one Observation per measurement, Devices for the edge device and its models.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="export a stored result (--fhir: FHIR R4 Bundle JSON)")
    p.add_argument("result_id")
    p.add_argument("--fhir", action="store_true", help="FHIR R4 Bundle (the one format so far)")
    p.add_argument("--out", metavar="FILE.json", help="write here instead of stdout")
    p.add_argument("--config", help="firmware config YAML (store path, sync.include_patient_ref)")
    p.add_argument("--store", metavar="DB", help="results store path (default: store.path of the config)")
    p.add_argument("--json", action="store_true", help="errors also as a JSON object on stdout")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from edge.commands.review import find_result
    from edge.errors import InputError
    from edge.pipeline.app import config_from
    from edge.store import ResultStore
    from edge.sync.fhir import to_fhir_bundle
    from edge.sync.payload import build_payload

    if not args.fhir:
        raise InputError("choose the export format: --fhir (FHIR R4 Bundle JSON)")
    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.is_dir():
        raise InputError(f"--out {out}: folder {out.parent} does not exist")
    cfg = config_from(args.config)
    store_path = Path(args.store) if args.store else cfg.section("store").path
    allow = cfg.section("sync").include_patient_ref
    with ResultStore(store_path, cfg.section("store")) as store:
        exam = find_result(store, args.result_id, store_path)
        saved_at, patient_ref = store.saved_info(args.result_id)
    bundle = to_fhir_bundle(build_payload(exam, saved_at, patient_ref, include_patient_ref=allow))
    text = json.dumps(bundle, indent=1)
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        print(json.dumps({"status": "written", "out": str(out), "resources": len(bundle["entry"])}))
    return 0
