"""Log in and out. The login form carries a CSRF token bound to an anonymous cookie; repeated failures
for one user name or from one address must wait longer and longer (receiver.web.throttle)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from receiver import users
from receiver.web import throttle
from receiver.web.deps import csrf_form, get_db
from receiver.web.render import page
from receiver.web.security import ANON_COOKIE, SESSION_COOKIE, new_token, set_session_cookie

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a scheme): an open redirect is a phishing tool."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or len(target) > 2000:
        return "/"
    return target


def _login_page(request: Request, status: int = 200, message: str | None = None, name: str = "",
                headers: dict[str, str] | None = None) -> Response:
    codec = request.app.state.codec
    session, _ = codec.load(request.cookies.get(SESSION_COOKIE))   # logged in already: forms carry its token
    token = session.csrf if session else codec.anon_token(request.cookies.get(ANON_COOKIE)) or new_token()
    expired = request.query_params.get("expired") == "1"
    response = page(request, "login.html", status=status, csrf_token=token, message=message, name=name[:64],
                    next=_safe_next(request.query_params.get("next")), expired=expired)
    response.set_cookie(ANON_COOKIE, codec.dump_anon(token), httponly=True, samesite="strict",
                        secure=request.app.state.settings.secure_cookies)
    response.headers.update(headers or {})
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
def login(request: Request, form: dict[str, str] = Depends(csrf_form), db: Session = Depends(get_db)) -> Response:
    settings = request.app.state.settings
    name, password = form.get("name", "")[:200], form.get("password", "")[:1000]
    keys = throttle.keys_for(name, request.client.host if request.client else "?")
    now = time.time()
    wait = throttle.wait_s(db, keys, now, settings.login_free_failures,
                            settings.login_first_delay_s, settings.login_max_delay_s)
    if wait:
        return _login_page(request, 429, f"Too many failed logins. Try again in {wait} seconds.", name,
                           {"Retry-After": str(wait)})
    user = users.authenticate(db, name, password)
    if user is None:
        throttle.record_failure(db, keys, now)
        db.commit()
        return _login_page(request, 401, "Wrong user name or password.", name)
    users.clear_failures(db, keys[0])
    db.commit()
    _, cookie = request.app.state.codec.issue(user.id, user.session_epoch)
    response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
    set_session_cookie(response, cookie, settings)
    response.delete_cookie(ANON_COOKIE)
    return response


@router.post("/logout")
def logout(form: dict[str, str] = Depends(csrf_form)) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
