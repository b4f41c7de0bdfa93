"""Row counts for /health (no clinical data)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receiver.models import Alert, Device, Held, Rejected, Result


def counts(db: Session) -> dict[str, int]:
    return {model.__tablename__: int(db.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Result, Alert, Device, Held, Rejected)}
