"""`fetal-receiver`: the central receiver's commands.

  fetal-receiver serve --db results.sqlite --broker-port 8883 --ca pki/ca.crt --cert pki/devices/receiver.crt \
      --key pki/devices/receiver.key [--http-port 8080] [--client-id rx-1 --share-group receivers]
  fetal-receiver serve --db results.sqlite --broker-port 1883 --no-tls     (plain MQTT: loopback trials only)
  fetal-receiver add-device CLINIC DEVICE [--clinic-name NAME] [--district NAME] --db results.sqlite
  fetal-receiver status --db results.sqlite          is the central side healthy? (exit 6 when not)
  fetal-receiver lag --db results.sqlite
  fetal-receiver migrate --db results.sqlite         upgrade the database schema (every command does it too)
  fetal-receiver seed N --db demo.sqlite             N realistic generated results (demo, benchmarks)
--db takes a SQLite path (default) or postgresql://host:port/dbname (psycopg 3).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Sequence

from edge.errors import ConfigError, FetalEdgeError, SyncError
from edge.sync.checks import ID_RE
from receiver import queries
from receiver.database import current_revision, db_errors
from receiver.db import Database
from receiver.health import health_report
from receiver.models import NAME_MAX
from receiver.service import Receiver, ReceiverSettings
from receiver.web import cli as web_cli


def _db(args: argparse.Namespace) -> Database:
    try:
        return Database(args.db, pg_schema=args.pg_schema)
    except (*db_errors(), ImportError, ValueError) as exc:
        raise SyncError(f"receiver database {args.db!r} cannot be opened: {type(exc).__name__}: "
                        f"{str(exc).splitlines()[0]}") from None


def _check_id(what: str, value: str | None) -> None:
    if value is not None and not ID_RE.match(value):
        raise ConfigError(f"{what} {value[:80]!r}: use 1-64 of A-Z a-z 0-9 _ . - (no / + #)")


def serve(args: argparse.Namespace) -> int:
    if args.tls and not (args.ca and args.cert and args.key):
        raise SyncError("TLS needs --ca (project CA), --cert and --key (the receiver's certificate); or --no-tls")
    _check_id("--client-id", args.client_id)
    _check_id("--share-group", args.share_group)
    if not args.keep_telemetry_days > 0:
        raise ConfigError(f"--keep-telemetry-days {args.keep_telemetry_days}: give a number of days > 0")
    settings = ReceiverSettings(host=args.broker_host, port=args.broker_port, tls=args.tls, ca=args.ca,
                                cert=args.cert, key=args.key, client_id=args.client_id,
                                topic_prefix=args.topic_prefix, share_group=args.share_group,
                                accept_patient_ref=args.accept_patient_ref,
                                keep_telemetry_days=args.keep_telemetry_days)
    logging.getLogger("receiver").info("settings in force: %s", settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    db = _db(args)
    receiver = Receiver(db, settings)
    if args.retire:
        receiver.retire()
        print(f"receiver {args.client_id} retired: {receiver.stats.stored} queued result(s) stored, its broker "
              f"session ended")
        return 0
    server = None
    if args.http_port:
        from receiver.api import ApiServer, make_app

        try:
            server = ApiServer(make_app(db.engine, receiver.link), args.http_host, args.http_port).start()
        except OSError:
            raise SyncError(f"--http-host {args.http_host} --http-port {args.http_port}: cannot listen there (in "
                            f"use, e.g. by the dashboard?); give another --http-port, or 0 for no local API") from None
    try:
        receiver.run(stop)
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.stop()
    return 0


def add_device(args: argparse.Namespace) -> int:
    _check_id("clinic", args.clinic)
    _check_id("device", args.device)
    for what, value in (("--clinic-name", args.clinic_name), ("--district", args.district)):
        if value is not None and not 0 < len(value) <= NAME_MAX:
            raise ConfigError(f"{what}: 1 to {NAME_MAX} characters (got {len(value)})")
    db = _db(args)
    db.register_device(args.clinic, args.device, args.clinic_name, args.district)
    replay = Receiver(db, ReceiverSettings(tls=False))   # same checks as live traffic
    replay.replay_held(args.clinic, args.device)
    stats = replay.stats
    print(f"registered {args.clinic}/{args.device}; {stats.released - stats.duplicates} held result(s) stored"
          + (f", {stats.duplicates} already stored" if stats.duplicates else ""))
    return 0


def status(args: argparse.Namespace) -> int:
    try:
        db = Database(args.db, pg_schema=args.pg_schema)
        engine = db.engine
    except (*db_errors(), ImportError, ValueError) as exc:
        report = {"status": "down", "problems": [f"database unreachable: {type(exc).__name__}: "
                                                 f"{str(exc).splitlines()[0][:300]}"], "database": {"ok": False}}
    else:
        report = health_report(engine, stale_after_s=args.stale_after, quiet_after_s=args.quiet_after)
        report["schema_revision"] = current_revision(engine)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"central side: {report['status'].upper()}")
        for p in report["problems"]:
            print(f"  problem: {p}")
        db_state = report["database"]
        print(f"  database: {'reachable' if db_state['ok'] else 'UNREACHABLE'}"
              + (f" ({db_state['latency_ms']} ms, schema {report.get('schema_revision')})" if db_state["ok"] else ""))
        for r in report.get("receivers", []):
            link = "connected+subscribed" if r["broker_connected"] and r["subscribed"] else \
                "connected, NOT subscribed" if r["broker_connected"] else "NOT connected"
            print(f"  receiver {r['client_id']} ({r['host']} pid {r['pid']}): "
                  f"{'running' if r['running'] else 'NOT RUNNING'}, broker {r['broker']} {link}, "
                  f"last message {r['last_message_at'] or 'never'}, stored {r['stored']}, held {r['held']}")
    return 0 if report["status"] == "ok" else SyncError.exit_code


def lag(args: argparse.Namespace) -> int:
    with _db(args).session() as s:
        print(json.dumps(queries.lag(s), indent=2))
    return 0


def migrate(args: argparse.Namespace) -> int:
    print(f"{args.db}: schema revision {current_revision(_db(args).engine)}")
    return 0


def seed(args: argparse.Namespace) -> int:
    from receiver.seed import seed_database

    if args.n < 0 or args.clinics < 1 or args.devices < args.clinics or args.workers < 1:
        raise ConfigError(f"seed {args.n} --clinics {args.clinics} --devices {args.devices} --workers "
                          f"{args.workers}: need N >= 0, clinics >= 1, devices >= clinics, workers >= 1")
    db = _db(args)
    t0 = time.perf_counter()
    try:
        n = seed_database(db.engine, args.n, clinics=args.clinics, devices=args.devices, seed=args.seed,
                          patient_refs=args.patient_refs, workers=args.workers)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    took = time.perf_counter() - t0
    print(f"seeded {n} results ({n / max(took, 1e-9):.0f}/s) from {args.clinics} clinics and {args.devices} "
          f"devices into {args.db}")
    return 0


COMMANDS = (("serve", serve, "subscribe, validate and store results (and serve /health)"),
            ("add-device", add_device, "register a device (unknown devices are rejected, their results held)"),
            ("status", status, "is the central side healthy? database, receivers, broker links"),
            ("lag", lag, "print sync lag per device as JSON"),
            ("migrate", migrate, "upgrade the database schema in place (every command does it on start)"),
            ("seed", seed, "write N realistic generated results straight into the database (demo, benchmarks)"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fetal-receiver", description="central receiver for fetal-edge results")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, func, text in COMMANDS:
        s = sub.add_parser(name, help=text, description=text)
        s.set_defaults(func=func)
        s.add_argument("--db", default="receiver.sqlite", help="SQLite path or postgresql://host:port/db")
        s.add_argument("--pg-schema", default=None, help="PostgreSQL schema (default: the search_path)")
    s = sub.choices["serve"]
    s.add_argument("--broker-host", default="127.0.0.1", help="MQTT broker host (default 127.0.0.1)")
    s.add_argument("--broker-port", type=int, default=8883, help="broker port (default 8883, MQTT over TLS)")
    s.add_argument("--tls", action=argparse.BooleanOptionalAction, default=True,
                   help="TLS with the receiver's client certificate (default). --no-tls: plain MQTT, e.g. port "
                        "1883 on loopback for a trial; results then cross the network unencrypted and "
                        "unauthenticated, so never use it on a clinic network")
    s.add_argument("--ca", type=Path, help="project CA certificate (scripts/make_certs.sh), with --tls")
    s.add_argument("--cert", type=Path, help="the receiver's certificate (CN receiver), with --tls")
    s.add_argument("--key", type=Path, help="the receiver's private key, with --tls")
    s.add_argument("--topic-prefix", default="fetal-edge/v1", help="topic prefix (default fetal-edge/v1)")
    s.add_argument("--client-id", default="fetal-receiver",
                   help="MQTT client id; each receiver of a shared group needs its own, stable across restarts")
    s.add_argument("--share-group", default=None,
                   help="MQTT 5 shared subscription group: receivers with the same group split the messages")
    s.add_argument("--retire", action="store_true",
                   help="scaling in: take this --client-id out of its --share-group for good (store what the "
                        "broker queued for it, unsubscribe, end its session) and exit")
    s.add_argument("--accept-patient-ref", action="store_true", help="accept payloads carrying patient_ref")
    s.add_argument("--keep-telemetry-days", type=float, default=90.0,
                   help="delete device telemetry history older than this (the latest per device is kept)")
    s.add_argument("--http-host", default="127.0.0.1")
    s.add_argument("--http-port", type=int, default=8080, help="/health, /results, /lag port (0: none)")
    a = sub.choices["add-device"]
    a.add_argument("clinic")
    a.add_argument("device")
    a.add_argument("--clinic-name", help=f"the clinic's name as people know it (<= {NAME_MAX} characters)")
    a.add_argument("--district", help=f"its district (<= {NAME_MAX} characters)")
    st = sub.choices["status"]
    st.add_argument("--json", action="store_true")
    st.add_argument("--stale-after", type=float, default=30.0,
                    help="a receiver whose heartbeat is older than this (s) is not running")
    st.add_argument("--quiet-after", type=float, default=None,
                    help="also down when no message arrived for this long (s); devices send telemetry every 300 s")
    sd = sub.choices["seed"]
    sd.add_argument("n", type=int, help="how many results")
    sd.add_argument("--clinics", type=int, default=200)
    sd.add_argument("--devices", type=int, default=1000)
    sd.add_argument("--seed", type=int, default=24, help="random seed (the same seed writes the same data)")
    sd.add_argument("--patient-refs", action="store_true",
                    help="link visits of a pregnancy by a generated patient reference (shown only with "
                         "--accept-patient-ref)")
    sd.add_argument("--workers", type=int, default=1, help="processes generating at once (PostgreSQL)")
    web_cli.register(sub)
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
