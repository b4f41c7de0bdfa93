"""Passwords (argon2id), signed session cookies that expire, CSRF tokens, and the security headers.

A session cookie carries {user id, the user's session epoch, CSRF token, issued-at}, signed with the
dashboard's secret (itsdangerous); the signature's timestamp gives the idle timeout (re-signed on every
request), `iat` the absolute one. Changing a password or disabling a user bumps the epoch, which ends
every session of that user. The CSRF token is per session (per anonymous visitor for the login form),
compared in constant time against the hidden form field.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.responses import Response

from receiver.web.settings import WebSettings

SESSION_COOKIE = "fe_session"
ANON_COOKIE = "fe_anon"          # carries the login form's CSRF token before anyone is logged in
CSRF_FIELD = "csrf_token"

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone")
MIN_PASSWORD = 10

SECURITY_HEADERS = {
    # no inline script or style anywhere: everything comes from /static on this host
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password too short ({len(password)} characters): use at least {MIN_PASSWORD}")
    return _hasher.hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; an unknown user (None) costs the same time as a known one."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


@dataclass(frozen=True)
class Session:
    user_id: int
    epoch: int
    csrf: str
    iat: float


class SessionCodec:
    """Session and anonymous cookies, signed with `secret`, idle-expiring after `idle_s`."""

    def __init__(self, secret: str, idle_s: int, max_s: int) -> None:
        self.idle_s, self.max_s = idle_s, max_s
        self._session = URLSafeTimedSerializer(secret, salt="fetal-edge-session")
        self._anon = URLSafeTimedSerializer(secret, salt="fetal-edge-anon")

    def issue(self, user_id: int, epoch: int) -> tuple[Session, str]:
        s = Session(user_id, epoch, new_token(), time.time())
        return s, self.dump(s)

    def dump(self, s: Session) -> str:
        return self._session.dumps({"u": s.user_id, "e": s.epoch, "c": s.csrf, "i": s.iat})

    def load(self, cookie: str | None) -> tuple[Session | None, str | None]:
        """(session, None) or (None, why): 'expired' for a session that timed out, 'invalid' otherwise."""
        if not cookie:
            return None, None
        try:
            d = self._session.loads(cookie, max_age=self.idle_s)
            s = Session(int(d["u"]), int(d["e"]), str(d["c"]), float(d["i"]))
        except SignatureExpired:
            return None, "expired"
        except (BadSignature, KeyError, TypeError, ValueError):
            return None, "invalid"
        if time.time() - s.iat > self.max_s:
            return None, "expired"
        return s, None

    def anon_token(self, cookie: str | None) -> str | None:
        try:
            return str(self._anon.loads(cookie, max_age=self.idle_s)) if cookie else None
        except (BadSignature, TypeError, ValueError):
            return None

    def dump_anon(self, token: str) -> str:
        return self._anon.dumps(token)


def set_session_cookie(response: Response, value: str, settings: WebSettings) -> None:
    """HttpOnly, SameSite=Lax; Secure when the dashboard is served over HTTPS."""
    response.set_cookie(SESSION_COOKIE, value, max_age=settings.session_max_s, httponly=True,
                        secure=settings.secure_cookies, samesite="lax", path="/")
