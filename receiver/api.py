"""A small read API over HTTP (stdlib server, JSON out):

GET /results?clinic=&device=&from=YYYY-MM-DD&to=YYYY-MM-DD&limit=N   results, newest exam first
GET /lag                                                             sync lag per registered device
GET /health                                                          row counts
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from receiver import queries
from receiver.db import Database

log = logging.getLogger("receiver.api")


def make_server(open_db: Callable[[], Database], host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            url = urlsplit(self.path)
            args = {k: v[-1] for k, v in parse_qs(url.query).items()}
            db = open_db()
            try:
                if url.path == "/results":
                    unknown = sorted(set(args) - {"clinic", "device", "from", "to", "limit"})
                    if unknown:
                        raise ValueError(f"unknown parameter(s) {unknown}; valid: clinic, device, from, to, limit")
                    limit = args.get("limit", "1000")
                    if not limit.isdigit():
                        raise ValueError(f"limit={limit!r}: expected a positive integer")
                    self._send(200, queries.results(db, args.get("clinic"), args.get("device"), args.get("from"),
                                                    args.get("to"), int(limit)))
                elif url.path == "/lag":
                    self._send(200, queries.lag(db))
                elif url.path == "/health":
                    self._send(200, {"status": "ok", **queries.counts(db)})
                else:
                    self._send(404, {"error": f"no such path {url.path!r}; try /results, /lag, /health"})
            except ValueError as exc:
                self._send(400, {"error": str(exc)})
            finally:
                db.close()

        def log_message(self, fmt: str, *a: Any) -> None:
            log.debug(fmt, *a)

    return ThreadingHTTPServer((host, port), Handler)


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    t = threading.Thread(target=server.serve_forever, name="receiver-api", daemon=True)
    t.start()
    return t
