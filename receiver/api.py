"""The receiver's local HTTP API (FastAPI), served by `fetal-receiver serve --http-port` beside the MQTT loop:

GET /health                                                          this receiver and its database; 503 if down
GET /results?clinic=&device=&from=YYYY-MM-DD&to=YYYY-MM-DD&limit=N   results, newest exam first
GET /lag                                                             sync lag per registered device

No login: bind it to 127.0.0.1 (the default) or a private network. The dashboard (`fetal-receiver dashboard`,
receiver.web) is the authenticated API and pages for people.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine

from receiver import queries
from receiver.database import sessions
from receiver.health import LinkState, health_report, http_status

log = logging.getLogger("receiver.api")
ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
DAY = r"^\d{4}-\d{2}-\d{2}$"


def make_app(engine: Engine, link: LinkState | None = None) -> FastAPI:
    app = FastAPI(title="fetal-edge receiver", docs_url=None, redoc_url=None)
    factory = sessions(engine)

    @app.middleware("http")
    async def no_sniffing(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"     # JSON is never taken for a page
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(str(x) for x in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": where[:500]}, status_code=400)

    @app.get("/health")
    def health() -> JSONResponse:
        report = health_report(engine, link)
        return JSONResponse(report, status_code=http_status(report))

    @app.get("/results")
    def results(request: Request, clinic: str | None = Query(None, pattern=ID),
                device: str | None = Query(None, pattern=ID), day_from: str | None = Query(None, alias="from",
                                                                                          pattern=DAY),
                day_to: str | None = Query(None, alias="to", pattern=DAY),
                limit: int = Query(1000, ge=1, le=10000)) -> list[dict[str, Any]]:
        unknown = sorted(set(request.query_params) - {"clinic", "device", "from", "to", "limit"})
        if unknown:
            raise HTTPException(400, f"unknown parameter(s) {unknown}; valid: clinic, device, from, to, limit")
        with factory() as s:
            try:
                return queries.results(s, clinic, device, day_from, day_to, limit)
            except ValueError as exc:
                raise HTTPException(400, str(exc)) from None

    @app.get("/lag")
    def lag() -> list[dict[str, Any]]:
        with factory() as s:
            return queries.lag(s)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"no such path {request.url.path[:200]!r}; try /results, /lag, /health"},
                            status_code=404)

    return app


class ApiServer:
    """uvicorn in a daemon thread; `port` is the bound one (0 picks a free port)."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 8080) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, name="receiver-api", daemon=True)

    def start(self, timeout: float = 10.0) -> "ApiServer":
        self.thread.start()
        deadline = threading.Event()
        for _ in range(int(timeout / 0.02)):
            if self.server.started or not self.thread.is_alive():
                break
            deadline.wait(0.02)
        if not self.server.started:
            raise OSError("the receiver's HTTP API did not start (port in use?)")
        return self

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
