"""Dependencies every route declares instead of repeating: the database session, the logged-in user (by
session cookie, or HTTP Basic for API scripts), the clinics that user may see, the role a route needs,
and the CSRF check of a form."""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass
from typing import Callable

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from receiver import users
from receiver.database import get_session as get_db
from receiver.web import throttle
from receiver.web.models import User
from receiver.web.security import ANON_COOKIE, CSRF_FIELD, SESSION_COOKIE, same_token


class LoginRequired(Exception):
    """No valid session: pages redirect to the login, the API answers 401."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason or "not logged in")
        self.reason = reason


@dataclass(frozen=True)
class Viewer:
    user: User
    clinics: tuple[str, ...] | None      # None: every clinic

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def role(self) -> str:
        return self.user.role

    def may_see(self, clinic_id: str) -> bool:
        return self.clinics is None or clinic_id in self.clinics


def _from_cookie(request: Request, db: Session) -> User:
    codec = request.app.state.codec
    s, why = codec.load(request.cookies.get(SESSION_COOKIE))
    if s is None:
        raise LoginRequired(why)
    user = db.get(User, s.user_id)
    if user is None or user.disabled or user.session_epoch != s.epoch:
        raise LoginRequired("ended")
    request.state.session = s
    request.state.refresh_cookie = codec.dump(s)       # sliding idle timeout
    return user


def _from_basic(request: Request, db: Session, header: str) -> User:
    try:
        name, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise HTTPException(400, "Authorization: expected Basic base64(name:password)") from None
    settings = request.app.state.settings
    keys = throttle.keys_for(name, request.client.host if request.client else "?")
    now = time.time()
    wait = throttle.wait_s(db, keys, now, settings.login_free_failures,
                            settings.login_first_delay_s, settings.login_max_delay_s)
    if wait:
        raise HTTPException(429, f"too many failed logins; try again in {wait} s", {"Retry-After": str(wait)})
    user = users.authenticate(db, name, password)
    if user is None:
        throttle.record_failure(db, keys, now)
        db.commit()
        raise HTTPException(401, "wrong user name or password", {"WWW-Authenticate": 'Basic realm="fetal-edge"'})
    users.clear_failures(db, keys[0])
    db.commit()
    return user


def current_user(request: Request, db: Session = Depends(get_db)) -> User:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic ") and request.url.path.startswith(("/api/", "/fhir/")):
        return _from_basic(request, db, header)
    return _from_cookie(request, db)


def viewer(request: Request, user: User = Depends(current_user)) -> Viewer:
    v = Viewer(user, None if user.sees_all else tuple(user.clinic_ids))
    request.state.viewer = v
    return v


def require_role(*roles: str) -> Callable[[Viewer], Viewer]:
    def check(v: Viewer = Depends(viewer)) -> Viewer:
        if v.role not in roles:
            raise HTTPException(403, f"this needs the role {' or '.join(roles)}; you are {v.role}")
        return v
    return check


async def csrf_form(request: Request) -> dict[str, str]:
    """The submitted form, once its CSRF token matches this session's (or this visitor's) token."""
    form = await request.form()
    codec = request.app.state.codec
    session, _ = codec.load(request.cookies.get(SESSION_COOKIE))
    expected = session.csrf if session else codec.anon_token(request.cookies.get(ANON_COOKIE))
    if not same_token(expected, form.get(CSRF_FIELD)):
        raise HTTPException(403, "this form has expired or did not come from this dashboard; reload the page "
                                 "and send it again")
    return {k: v for k, v in form.items() if isinstance(v, str)}
