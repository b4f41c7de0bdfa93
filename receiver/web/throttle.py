"""Slowing down password guessing: after a few failed logins for one user name, or from one address,
the next attempt must wait `first_delay` seconds, and each further failure doubles the wait (capped). Kept in the database, so every
dashboard process and restart sees the same counts; a success clears the user's count."""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from receiver.web.models import LoginFailure

FORGET_AFTER_S = 24 * 3600


def keys_for(name: str, address: str) -> tuple[str, str]:
    return f"user:{name[:64]}", f"ip:{address[:64]}"


def wait_s(db: Session, keys: tuple[str, ...], now: float, free: int, first_delay: int, max_delay: int) -> int:
    """Seconds before another attempt for these keys is even checked (0: go ahead)."""
    wait = 0.0
    for row in db.scalars(select(LoginFailure).where(LoginFailure.key.in_(keys))):
        if row.failures < free or now - row.last_at > FORGET_AFTER_S:
            continue
        delay = min(float(max_delay), first_delay * 2.0 ** (row.failures - free))
        wait = max(wait, row.last_at + delay - now)
    return int(math.ceil(wait)) if wait > 0 else 0


def record_failure(db: Session, keys: tuple[str, ...], now: float) -> None:
    for key in keys:
        row = db.get(LoginFailure, key)
        if row is None:
            db.add(LoginFailure(key=key, failures=1, last_at=now))
        else:
            row.failures = 1 if now - row.last_at > FORGET_AFTER_S else row.failures + 1
            row.last_at = now
