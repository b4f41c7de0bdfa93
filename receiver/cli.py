"""`fetal-receiver`: the central receiver's start command.

  fetal-receiver serve --db results.sqlite --broker-port 8883 --ca pki/ca.crt --cert pki/devices/receiver.crt \
      --key pki/devices/receiver.key [--http-port 8080]
  fetal-receiver add-device CLINIC DEVICE --db results.sqlite
  fetal-receiver lag --db results.sqlite
--db takes a SQLite path (default) or postgresql://host:port/dbname (psycopg 3).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Sequence

from edge.errors import FetalEdgeError, SyncError
from edge.sync.checks import ID_RE
from receiver import queries
from receiver.api import make_server, serve_in_thread
from receiver.db import Database, db_errors
from receiver.service import Receiver, ReceiverSettings


def _db(args: argparse.Namespace) -> Database:
    try:
        return Database(args.db, pg_schema=args.pg_schema)
    except (*db_errors(), ImportError) as exc:
        raise SyncError(f"receiver database {args.db!r} cannot be opened: {type(exc).__name__}: {exc}") from None


def serve(args: argparse.Namespace) -> int:
    if args.tls and not (args.ca and args.cert and args.key):
        raise SyncError("TLS needs --ca (project CA), --cert and --key (the receiver's certificate); or --no-tls")
    settings = ReceiverSettings(host=args.broker_host, port=args.broker_port, tls=args.tls, ca=args.ca,
                                cert=args.cert, key=args.key, topic_prefix=args.topic_prefix,
                                accept_patient_ref=args.accept_patient_ref)
    logging.getLogger("receiver").info("settings in force: %s", settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = None
    if args.http_port:
        server = make_server(lambda: _db(args), args.http_host, args.http_port)
        serve_in_thread(server)
    try:
        Receiver(_db(args), settings).run(stop)
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.shutdown()
    return 0


def add_device(args: argparse.Namespace) -> int:
    for what, value in (("clinic", args.clinic), ("device", args.device)):
        if not ID_RE.match(value):
            raise SyncError(f"{what} {value!r}: use 1-64 of A-Z a-z 0-9 _ . - (no / + #)")
    db = _db(args)
    db.register_device(args.clinic, args.device)
    held = db.release_held(args.clinic, args.device)
    replay = Receiver(db, ReceiverSettings(tls=False))   # same checks as live traffic
    replay.process([(t.encode(), p.encode()) for t, p in held])
    stats = replay.stats
    print(f"registered {args.clinic}/{args.device}; {stats.stored} held result(s) stored"
          + (f", {stats.duplicates} already stored" if stats.duplicates else ""))
    return 0


def lag(args: argparse.Namespace) -> int:
    print(json.dumps(queries.lag(_db(args)), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fetal-receiver", description="central receiver for fetal-edge results")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, func, text in (("serve", serve, "subscribe, validate and store results"),
                             ("add-device", add_device, "register a device (unknown devices are rejected)"),
                             ("lag", lag, "print sync lag per device as JSON")):
        s = sub.add_parser(name, help=text)
        s.set_defaults(func=func)
        s.add_argument("--db", default="receiver.sqlite", help="SQLite path or postgresql://host:port/db")
        s.add_argument("--pg-schema", default=None, help="PostgreSQL schema (default: the search_path)")
    s = sub.choices["serve"]
    s.add_argument("--broker-host", default="127.0.0.1")
    s.add_argument("--broker-port", type=int, default=8883)
    s.add_argument("--tls", action=argparse.BooleanOptionalAction, default=True)
    s.add_argument("--ca", type=Path)
    s.add_argument("--cert", type=Path)
    s.add_argument("--key", type=Path)
    s.add_argument("--topic-prefix", default="fetal-edge/v1")
    s.add_argument("--accept-patient-ref", action="store_true", help="accept payloads carrying patient_ref")
    s.add_argument("--http-host", default="127.0.0.1")
    s.add_argument("--http-port", type=int, default=8080, help="read API port (0: no API)")
    a = sub.choices["add-device"]
    a.add_argument("clinic")
    a.add_argument("device")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        return int(args.func(args))
    except FetalEdgeError as exc:
        print(f"fetal-receiver: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
