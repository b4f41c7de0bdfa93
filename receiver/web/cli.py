"""The dashboard's commands, added to `fetal-receiver`:

  fetal-receiver dashboard --db receiver.sqlite [--host 127.0.0.1] [--port 8080]   serve the dashboard
  fetal-receiver user add NAME --role clinic --clinic C1 [--clinic C2] [--password-stdin]
  fetal-receiver user passwd NAME | disable NAME | enable NAME | remove NAME | list
  fetal-receiver demo [--db fetal-demo.sqlite] [--port 8080]      seeded database + dashboard, demo logins printed
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edge.errors import InputError
from receiver import users
from receiver.database import open_engine, sessions
from receiver.web.settings import WebSettings

log = logging.getLogger("receiver.web")
DEMO_USERS = (("programme", "programme", [], "demo-programme"), ("midwife", "clinic", ["clinic-001"], "demo-midwife"),
              ("admin", "admin", [], "demo-admin-pass"))


def _engine(args: argparse.Namespace) -> Any:
    logging.getLogger("alembic").setLevel(logging.WARNING)   # migrations at start: only what goes wrong
    return open_engine(args.db, args.pg_schema)


def _settings(args: argparse.Namespace) -> WebSettings:
    return WebSettings(db_url=args.db, pg_schema=args.pg_schema, accept_patient_ref=args.accept_patient_ref,
                       stale_days=args.stale_days, session_idle_s=args.session_idle_min * 60,
                       secure_cookies=args.secure_cookies)


def run_dashboard(settings: WebSettings, engine: Any, host: str, port: int) -> None:
    import uvicorn

    from receiver.web.app import create_app

    uvicorn.run(create_app(settings, engine), host=host, port=port, log_level="info", proxy_headers=False)


def dashboard(args: argparse.Namespace) -> int:
    run_dashboard(_settings(args), _engine(args), args.host, args.port)
    return 0


def _password(args: argparse.Namespace) -> str:
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise InputError("the two passwords differ; nothing changed")
    return first


def user(args: argparse.Namespace) -> int:
    with sessions(_engine(args))() as db:
        if args.action == "list":
            for u in users.list_users(db):
                print(f"{u.name}\t{u.role}\t{','.join(u.clinics) or 'all clinics'}\t"
                      f"{'disabled' if u.disabled else 'active'}")
            return 0
        if args.action == "add":
            users.add_user(db, args.name, _password(args), args.role, args.clinic)
        elif args.action == "passwd":
            users.set_password(db, args.name, _password(args))
        elif args.action in ("disable", "enable"):
            users.set_disabled(db, args.name, args.action == "disable")
        else:
            users.remove_user(db, args.name)
        db.commit()
    print(f"user {args.name}: {args.action} done")
    return 0


def demo(args: argparse.Namespace) -> int:
    from receiver.web.demo import seed_demo

    path = Path(args.db)
    fresh = not path.exists()
    engine = _engine(args)
    if fresh:
        print(f"making the demo database {path} (generated exams; about half a minute) ...", flush=True)
        seed_demo(engine, datetime.now(timezone.utc), DEMO_USERS)
    url = f"http://{args.host}:{args.port}/"
    print(f"\nfetal-edge dashboard demo on {path} ({'new' if fresh else 'existing'} database)\n  open {url}\n"
          + "".join(f"  log in as {n!r} with password {p!r} ({r}{': ' + ', '.join(c) if c else ''})\n"
                    for n, r, c, p in DEMO_USERS) + "  Ctrl-C stops it.\n", flush=True)
    # the demo's visits are linked by generated patient references: shown, as a receiver started with
    # --accept-patient-ref would, so the growth chart has a pregnancy's visits
    run_dashboard(replace(_settings(args), accept_patient_ref=True), engine, args.host, args.port)
    return 0


def _common(p: argparse.ArgumentParser, db_default: str = "receiver.sqlite") -> None:
    p.add_argument("--db", default=db_default, help="SQLite path or postgresql://host:port/db")
    p.add_argument("--pg-schema", default=None, help="PostgreSQL schema (default: the search_path)")


def _served(p: argparse.ArgumentParser, port: int = 8080) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=port)
    p.add_argument("--accept-patient-ref", action="store_true",
                   help="show patient references (only when the receiver runs with --accept-patient-ref)")
    p.add_argument("--stale-days", type=int, default=7, help="devices not seen for longer are listed")
    p.add_argument("--session-idle-min", type=int, default=30, help="minutes before an unused session ends")
    p.add_argument("--secure-cookies", action="store_true", help="behind HTTPS: cookies only over TLS")


def register(sub: Any) -> None:
    """Add `dashboard`, `user` and `demo` to fetal-receiver's sub-commands."""
    d = sub.add_parser("dashboard", help="serve the web dashboard and JSON API")
    _common(d)
    _served(d)
    d.set_defaults(func=dashboard)
    u = sub.add_parser("user", help="manage dashboard users")
    actions = u.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name in ("add", "passwd", "disable", "enable", "remove", "list"):
        a = actions.add_parser(name, help=f"{name} {'users' if name == 'list' else 'a user'}")
        _common(a)
        if name != "list":
            a.add_argument("name")
        if name in ("add", "passwd"):
            a.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add = actions.choices["add"]
    add.add_argument("--role", required=True, choices=users.ROLES)
    add.add_argument("--clinic", action="append", default=[], help="a clinic a clinic user may see (repeat)")
    u.set_defaults(func=user)
    m = sub.add_parser("demo", help="a seeded demo database and the dashboard on it")
    _common(m, "fetal-demo.sqlite")
    _served(m)
    m.set_defaults(func=demo)

