"""`fetal-edge sync [--config FILE] [--once] [--timeout S]`: publish the outbox to the central broker.

Long-running by default (a service: SIGTERM/Ctrl-C stop it cleanly); `--once` drains the outbox and
exits 0, or exits 6 if results are still unsynced after --timeout seconds (they are kept).
Progress (published, acknowledged, left in the outbox) is logged on stderr every `sync.progress_interval_s`
and on exit, and written to the heartbeat file `fetal-edge status` reads (edge.sync.heartbeat).
Settings: the `sync`, `store` and `telemetry` sections of the config (docs/sync.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from pathlib import Path

from edge.config import Config, load_config, parse_config

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="publish stored results to the central broker (MQTT 5, TLS)")
    p.add_argument("--config", help="firmware config YAML with sync/store/telemetry sections")
    p.add_argument("--store", metavar="DB", help="results store path (default: store.path of the config)")
    p.add_argument("--once", action="store_true", help="drain the outbox and exit")
    p.add_argument("--timeout", type=float, default=300.0, metavar="S",
                   help="with --once: give up (exit 6, results kept) after S seconds (default 300)")
    p.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    p.set_defaults(func=run)


def load(args: argparse.Namespace) -> Config:
    return load_config(args.config) if args.config else parse_config({})


def run(args: argparse.Namespace) -> int:
    from edge.models import MODELS_DIR
    from edge.store import ResultStore
    from edge.sync.telemetry import collect
    from edge.sync.worker import SyncWorker

    if not getattr(args, "verbose", False):   # a service says how it is doing: progress at INFO even without -v
        logging.getLogger("edge.sync").setLevel(logging.INFO)
    cfg = load(args)
    sync, tel = cfg.section("sync"), cfg.section("telemetry")
    store_path = Path(args.store) if args.store else cfg.section("store").path
    store = ResultStore(store_path, cfg.section("store"))
    models_dir = Path(tel.models_dir) if tel.models_dir else MODELS_DIR
    telemetry = (lambda: collect(store, sync, models_dir)) if tel.enabled else None
    worker = SyncWorker(store, sync, telemetry, tel.interval_s)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    log.info("fetal-edge sync: store %s (%d unsynced)", store_path, store.outbox_len())
    try:
        state = worker.run(stop, once=args.once, timeout_s=args.timeout if args.once else None)
    finally:
        remaining = store.outbox_len()
        store.close()
    summary = {"status": "ok", "published": state.published, "sent": state.sent, "refused": state.refused,
               "held": state.held, "unsynced": remaining,
               "last_sync_at": state.last_sync_at, "last_error": state.last_error}
    if args.json:
        print(json.dumps(summary))
    return 0
