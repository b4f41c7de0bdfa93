"""Engine, sessions and schema migrations for the receiver database.

`open_engine("receiver.sqlite")` (a path: embedded SQLite, the default) or
`open_engine("postgresql://host:5432/db", pg_schema="x")` (psycopg 3; the schema is created if missing) returns
an Engine whose tables are migrated to the newest Alembic revision (a database made by an older receiver is
upgraded in place, every row kept). `sessions(engine)` is the sessionmaker.

In FastAPI: put the sessionmaker on the app (`app.state.sessions = sessions(engine)`) and declare
`session: Session = Depends(get_session)`: one Session per request, closed after it.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

log = logging.getLogger("receiver.database")
logging.getLogger("alembic").setLevel(logging.WARNING)     # its per-step INFO lines drown the receiver's log
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LEGACY_REVISION = "0001"          # the hand-written schema of receiver/db.py before SQLAlchemy
_MIGRATION_LOCK = 7_224_024       # PostgreSQL advisory lock: one receiver migrates, the others wait


def db_errors() -> tuple[type[BaseException], ...]:
    """What a failing database raises (connection lost, disk full, locked too long)."""
    return (SQLAlchemyError, DBAPIError, sqlite3.Error, OSError)


def sqlalchemy_url(url: str) -> str:
    """A path or sqlite:/// URL -> SQLite; postgresql:// or postgres:// -> PostgreSQL through psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith(("postgresql+", "sqlite:")):
        return url
    return f"sqlite:///{url}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def make_engine(url: str, pg_schema: str | None = None, **kw: Any) -> Engine:
    """An engine (no migration): SQLite in WAL mode with foreign keys on; PostgreSQL on `pg_schema` if given."""
    full = sqlalchemy_url(url)
    if full.startswith("sqlite"):
        engine = create_engine(full, connect_args={"timeout": 30.0, "check_same_thread": False}, **kw)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kw.setdefault("connect_args", {}).setdefault("application_name", "fetal-receiver")   # seen in pg_stat_activity
    if pg_schema:
        if not pg_schema.replace("_", "").isalnum():
            raise ValueError(f"pg_schema {pg_schema!r}: use letters, digits and _ only")
        with create_engine(full).connect() as conn:
            try:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{pg_schema}"'))
                conn.commit()
            except DBAPIError:     # created by another process at the same moment
                conn.rollback()
        kw["connect_args"]["options"] = f"-csearch_path={pg_schema}"
    kw.setdefault("pool_pre_ping", True)
    return create_engine(full, **kw)


def alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.lru_cache(maxsize=None)
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _lock(conn: Connection) -> None:
    """Only one process migrates at a time; the others wait, then find nothing to do."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
        conn.commit()
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")     # SQLite's write lock, held to the commit


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade to `revision`; a database of the pre-SQLAlchemy receiver is recognised and upgraded in place."""
    from alembic import command

    before = current_revision(engine)
    if revision == "head" and before == head_revision():
        return
    with engine.connect() as conn:
        _lock(conn)
        try:
            tables = set(inspect(conn).get_table_names())
            if "results" in tables and "alembic_version" not in tables:
                command.stamp(alembic_config(conn), LEGACY_REVISION)
            command.upgrade(alembic_config(conn), revision)
            conn.commit()
            if before is not None or "results" in tables:
                log.warning("receiver database upgraded from schema %s to %s", before or f"{LEGACY_REVISION} (legacy)",
                            head_revision() if revision == "head" else revision)
        finally:
            conn.rollback()
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                conn.commit()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def open_engine(url: str, pg_schema: str | None = None, **kw: Any) -> Engine:
    """An engine on a database migrated to the newest schema."""
    engine = make_engine(url, pg_schema, **kw)
    migrate(engine)
    return engine


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: a Session from `request.app.state.sessions`, closed when the request ends."""
    with request.app.state.sessions() as session:
        yield session
