"""The one place a query is narrowed to what a viewer may see and to the filters, and paged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Sequence, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from receiver.models import Clinic
from receiver.web.filters import Filters

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    has_next: bool

    def to_json(self, items: list[Any] | None = None) -> dict[str, Any]:
        return {"page": self.page, "per_page": self.per_page, "has_next": self.has_next,
                "items": self.items if items is None else items}


def scoped(stmt: Select, model: Any, clinics: Sequence[str] | None, f: Filters | None = None) -> Select:
    """`stmt` limited to `clinics` (None: all) and the filters, on a model with clinic_id/started_at."""
    if clinics is not None:
        stmt = stmt.where(model.clinic_id.in_(list(clinics)))
    if f is None:
        return stmt
    if f.clinic:
        stmt = stmt.where(model.clinic_id == f.clinic)
    if f.district:
        stmt = stmt.where(model.clinic_id.in_(select(Clinic.clinic_id).where(Clinic.district == f.district)))
    if f.device and hasattr(model, "device_id"):
        stmt = stmt.where(model.device_id == f.device)
    if f.since is not None and hasattr(model, "started_at"):
        stmt = stmt.where(model.started_at >= f.since)
    if f.until is not None and hasattr(model, "started_at"):
        stmt = stmt.where(model.started_at < f.until)
    return stmt


def paged(db: Session, stmt: Select, page: int, per_page: int) -> Page[Any]:
    """One page of `stmt` (ordered by the caller); one extra row tells whether there is a next page."""
    rows = list(db.execute(stmt.offset((page - 1) * per_page).limit(per_page + 1)))
    return Page(rows[:per_page], page, per_page, len(rows) > per_page)
