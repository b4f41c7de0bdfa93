"""Managing dashboard users (the tables: receiver.web.models): add, change password, disable, remove, list,
check a password; used by `fetal-receiver user ...` and the admin pages."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from edge.errors import InputError
from edge.sync.checks import ID_RE
from receiver.web.models import ROLES, LoginFailure, SessionSecret, User, UserClinic
from receiver.web.security import check_password, hash_password


@dataclass(frozen=True)
class UserView:
    name: str
    role: str
    clinics: list[str]
    disabled: bool


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not ID_RE.match(name):
        raise InputError(f"user name {str(name)[:80]!r}: use 1-64 of A-Z a-z 0-9 _ . - starting with a letter "
                         "or digit")
    return name


def _check_role(role: str, clinics: list[str]) -> None:
    if role not in ROLES:
        raise InputError(f"role {role!r}: valid roles are {', '.join(ROLES)}")
    if role == "clinic" and not clinics:
        raise InputError("a clinic user needs at least one --clinic (the clinics it may see)")
    if role != "clinic" and clinics:
        raise InputError(f"role {role!r} sees every clinic: give --clinic only with --role clinic")
    for c in clinics:
        if not ID_RE.match(c):
            raise InputError(f"clinic {c[:80]!r}: use 1-64 of A-Z a-z 0-9 _ . -")


def find(db: Session, name: str) -> User | None:
    return db.scalar(select(User).where(User.name == name))


def get(db: Session, name: str) -> User:
    user = find(db, name)
    if user is None:
        raise InputError(f"no user {name[:80]!r}; `fetal-receiver user list` shows who there is")
    return user


def add_user(db: Session, name: str, password: str, role: str, clinics: list[str] | None = None) -> User:
    clinics = sorted(set(clinics or []))
    _check_name(name)
    _check_role(role, clinics)
    if find(db, name) is not None:
        raise InputError(f"user {name!r} exists already; use `fetal-receiver user passwd` or `user remove`")
    try:
        digest = hash_password(password)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    user = User(name=name, password_hash=digest, role=role, disabled=False, session_epoch=0,
                created_at=datetime.now(timezone.utc), clinics=[UserClinic(clinic_id=c) for c in clinics])
    db.add(user)
    db.flush()
    return user


def set_password(db: Session, name: str, password: str) -> None:
    user = get(db, name)
    try:
        user.password_hash = hash_password(password)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    user.session_epoch += 1


def set_disabled(db: Session, name: str, disabled: bool) -> None:
    user = get(db, name)
    user.disabled = disabled
    user.session_epoch += 1


def remove_user(db: Session, name: str) -> None:
    db.delete(get(db, name))


def list_users(db: Session) -> list[UserView]:
    return [UserView(u.name, u.role, u.clinic_ids, u.disabled) for u in db.scalars(select(User).order_by(User.name))]


def authenticate(db: Session, name: str, password: str) -> User | None:
    """The user when name and password match an enabled account; None otherwise (same cost either way)."""
    user = find(db, name) if ID_RE.match(name or "") else None
    ok = check_password(user.password_hash if user else None, password)
    return user if ok and user is not None and not user.disabled else None


def session_secret(db: Session) -> str:
    """The stored signing key, made (64 hex digits) the first time it is asked for."""
    row = db.get(SessionSecret, 1)
    if row is None:
        db.add(SessionSecret(id=1, secret=secrets.token_hex(32)))
        try:
            db.commit()
        except IntegrityError:          # another dashboard process made it first: use theirs
            db.rollback()
        row = db.get(SessionSecret, 1)
    return row.secret


def clear_failures(db: Session, *keys: str) -> None:
    db.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys)))
