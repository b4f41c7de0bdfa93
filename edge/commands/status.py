"""`fetal-edge status [--config FILE] [--json]`: outbox length, last successful sync, store warnings, whether a
sync service is running on this store (its heartbeat file, edge.sync.heartbeat) and whether the broker is
reachable with this device's certificate. Exit 0 reachable, 6 not reachable."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="sync status: outbox length, last sync, sync service running, broker reachability")
    p.add_argument("--config", help="firmware config YAML with sync/store sections")
    p.add_argument("--store", metavar="DB", help="results store path (default: store.path of the config)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge.commands.sync import load
    from edge.store import ResultStore
    from edge.sync.heartbeat import service_status
    from edge.sync.transport import make_client, probe

    cfg = load(args)
    s = cfg.section("sync")
    store_path = Path(args.store) if args.store else cfg.section("store").path
    with ResultStore(store_path, cfg.section("store")) as store:
        info = {"store": str(store_path), "results": store.count(), "outbox_len": store.outbox_len(),
                "last_sync_at": store.last_sync(), "free_disk_mb": round(store.free_disk_mb(), 1),
                "warnings": store.warnings(),
                "quarantined": str(store.quarantined) if store.quarantined else None}
    service = service_status(store_path)
    client = make_client(f"{s.device_id}-status", s.tls, s.ca, s.cert, s.key)
    reachable, message = probe(client, s.host, s.port)
    info.update({"sync_running": service["running"], "sync_service": service["message"],  # no |=: Python 3.8
                 "broker": f"{s.host}:{s.port}", "tls": s.tls, "broker_reachable": reachable,
                 "broker_message": message})
    if args.json:
        print(json.dumps({**info, "sync_heartbeat": service}))
    else:
        for k, v in info.items():
            print(f"{k:18s} {v}")
    return 0 if reachable else 6
