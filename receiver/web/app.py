"""`create_app(settings)`: the dashboard's FastAPI application (pages, JSON API, FHIR, login), with the
security headers on every answer and errors shown as pages or JSON, never as a traceback."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.responses import Response

from receiver.database import sessions
from receiver.users import session_secret
from receiver.web import admin, api, auth, pages
from receiver.web.deps import LoginRequired
from receiver.web.render import HERE, make_templates, page
from receiver.web.security import SECURITY_HEADERS, SESSION_COOKIE, SessionCodec, set_session_cookie
from receiver.web.settings import WebSettings

log = logging.getLogger("receiver.web")
_MACHINE = ("/api/", "/fhir/", "/health", "/openapi.json")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(_MACHINE)


def _login_redirect(request: Request, reason: str | None) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = f"/login?next={quote(target, safe='')}" + ("&expired=1" if reason == "expired" else "")
    response = RedirectResponse(url, status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    response = page(request, "error.html", status=status, status_code=status, message=message)
    response.headers.update(headers or {})
    return response


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": "log in first (session cookie, or HTTP Basic for scripts)"},
                                status_code=401, headers={"WWW-Authenticate": 'Basic realm="fetal-edge"'})
        return _login_redirect(request, exc.reason)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}"
                             for e in exc.errors()[:5])
        return _error(request, 400 if not _wants_json(request) else 422, f"bad request: {problems}")

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:   # logged; the user sees no traceback
        log.exception("%s %s failed", request.method, request.url.path)
        return _error(request, 500, "the dashboard failed on this request; the error is in its log")


def create_app(settings: WebSettings, engine: Engine) -> FastAPI:
    app = FastAPI(title=settings.title, version="1", docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json",
                  description="Exams, alerts, devices and clinics of a fetal-edge programme; "
                              "log in with the dashboard's user name and password (HTTP Basic).")
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions(engine)
    with app.state.sessions() as db:
        secret = settings.secret_key or session_secret(db)
    app.state.codec = SessionCodec(secret, settings.session_idle_s, settings.session_max_s)
    app.state.templates = make_templates()

    @app.middleware("http")
    async def headers(request: Request, call_next):  # noqa: ANN001, ANN202 (starlette middleware signature)
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        refresh = getattr(request.state, "refresh_cookie", None)
        if refresh and SESSION_COOKIE not in response.headers.get("set-cookie", ""):
            set_session_cookie(response, refresh, settings)
        return response

    _install_handlers(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(auth.router)
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(admin.router)
    log.info("dashboard settings in force: %s", settings.public())
    return app
