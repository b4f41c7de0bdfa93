"""The receiver's database handle: `Database("results.sqlite")` (embedded SQLite, the default) or
`Database("postgresql://127.0.0.1:5432/test", pg_schema="x")` (psycopg 3). Opening migrates the schema
(receiver.database); writing goes through receiver.ingest; the tables are described in receiver.models."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from receiver.database import db_errors, open_engine, sessions
from receiver.extract import clip
from receiver.ingest import Batch, BatchOutcome, settle_latest, touch_devices, write_batch
from receiver.models import NAME_MAX, Clinic, Device

__all__ = ["Database", "db_errors", "BatchOutcome"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Database:
    def __init__(self, url: str, pg_schema: str | None = None) -> None:
        self.url, self.pg_schema = url, pg_schema
        self.engine = open_engine(url, pg_schema)
        self.sessions = sessions(self.engine)

    def session(self) -> Session:
        return self.sessions()

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only SQL statement with `?` placeholders (tools and tests)."""
        values = list(params)
        names = iter(range(len(values)))
        bound = re.sub(r"\?", lambda _: f":p{next(names)}", sql)
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(bound), {f"p{i}": v for i, v in enumerate(values)})]

    def register_device(self, clinic_id: str, device_id: str, clinic_name: str | None = None,
                        district: str | None = None) -> bool:
        """Register a device (and its clinic); True if it was new. Names are bounded to 200 characters."""
        with self.session() as s, s.begin():
            clinic = s.get(Clinic, clinic_id)
            if clinic is None:
                clinic = Clinic(clinic_id=clinic_id, created_at=_now())
                s.add(clinic)
            if clinic_name is not None:
                clinic.name = clip(clinic_name, NAME_MAX)
            if district is not None:
                clinic.district = clip(district, NAME_MAX)
            if s.get(Device, (clinic_id, device_id)) is not None:
                return False
            s.add(Device(clinic_id=clinic_id, device_id=device_id, registered_at=_now()))
            return True

    def devices(self) -> set[tuple[str, str]]:
        with self.session() as s:
            return set(s.execute(select(Device.clinic_id, Device.device_id)).tuples())

    def write(self, batch: Batch) -> BatchOutcome:
        """One transaction for the batch; then devices' last-seen times and `is_latest` (see receiver.ingest)."""
        with self.session() as s:
            with s.begin():
                out = write_batch(s, batch)
            with s.begin():
                touch_devices(s, batch)
                if batch.results:
                    settle_latest(s, [p for p, _ in batch.results])
        return out

    def store(self, results: list[dict[str, Any]], rejects: list[dict[str, Any]] | None = None,
              telemetry: list[dict[str, Any]] | None = None, received: datetime | None = None) -> BatchOutcome:
        """Results and telemetry received at one time (default now)."""
        at = received or _now()
        return self.write(Batch(results=[(p, at) for p in results], telemetry=[(t, at) for t in telemetry or []],
                                rejects=list(rejects or [])))

    def close(self) -> None:
        self.engine.dispose()
