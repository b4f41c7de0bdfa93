"""Alembic environment of the receiver database (see README.md in this folder).

Run through `receiver.database.migrate(engine)` (what every receiver command does at start) or the alembic
command line: `alembic -c receiver/migrations/alembic.ini -x db=postgresql://host/db upgrade head`.
"""

from __future__ import annotations

import importlib

from alembic import context

from receiver.database import make_engine
from receiver.models import Base

# Every module that declares tables on receiver.models.Base; autogenerate compares them all with the database.
MODEL_MODULES = ("receiver.models", "receiver.web.models")


def _load_models() -> None:
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):   # the module itself is absent: fine
                raise


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


_load_models()
connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    x = context.get_x_argument(as_dictionary=True)
    url = x.get("db") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the database: alembic ... -x db=receiver.sqlite | postgresql://host:5432/db")
    engine = make_engine(url, x.get("pg_schema"))
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
