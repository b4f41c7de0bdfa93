"""Exams: the filtered list, and one exam with everything a clinician needs to judge its numbers
(measurements with unit, quality, centile and method; dating; plausibility; models; alerts; review history).

An exam outside the viewer's clinics is reported exactly like one that does not exist (None), so a guessed
id tells nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from receiver.models import MEASUREMENTS, Alert, Result
from receiver.web.data.scope import Page, paged, scoped
from receiver.web.filters import Filters

LIST_COLUMNS = (Result.result_id, Result.clinic_id, Result.device_id, Result.started_at, Result.status,
                Result.ga_days, Result.hc_value, Result.hc_flag, Result.hc_centile, Result.efw_value,
                Result.flagged, Result.alert_count, Result.alert_severity, Result.review_state, Result.is_latest)
HISTORY_DEPTH = 20
UUID_LEN = 36


def exam_list(db: Session, clinics: Sequence[str] | None, f: Filters, per_page: int,
              flagged_only: bool = False) -> Page[dict[str, Any]]:
    stmt = scoped(select(*LIST_COLUMNS), Result, clinics, f)
    if flagged_only:
        stmt = stmt.where(Result.flagged)
    page = paged(db, stmt.order_by(Result.started_at.desc(), Result.result_id), f.page, per_page)
    return Page([dict(r._mapping) for r in page.items], page.page, page.per_page, page.has_next)


@dataclass
class Exam:
    row: Result
    payload: dict[str, Any]
    alerts: list[Alert]
    history: list[Result]           # every version of this exam (supersedes chain), oldest first

    @property
    def result_id(self) -> str:
        return self.row.result_id

    def review_note(self, version: Result) -> str | None:
        """The reviewer's note of one version (schema 1.1 `review.note`)."""
        review = json.loads(version.payload).get("review") or {}
        return review.get("note")

    def measurements(self) -> list[tuple[str, dict[str, Any]]]:
        meas = self.payload.get("measurements") or {}
        return [(name, meas[name]) for name in MEASUREMENTS if name in meas]

    def to_json(self, show_patient_ref: bool) -> dict[str, Any]:
        payload = dict(self.payload)
        if not show_patient_ref:
            payload.pop("patient_ref", None)
        return {"result_id": self.result_id, "clinic_id": self.row.clinic_id, "device_id": self.row.device_id,
                "received_at": self.row.received_at.isoformat(), "is_latest": self.row.is_latest,
                "payload": payload,
                "alerts": [alert_json(a) for a in self.alerts],
                "history": [{"result_id": h.result_id, "review_state": h.review_state, "review_by": h.review_by,
                             "review_at": h.review_at and h.review_at.isoformat(), "review_note": self.review_note(h),
                             "supersedes": h.supersedes, "is_latest": h.is_latest} for h in self.history]}


def alert_json(a: Alert) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in (
        ("id", a.id), ("result_id", a.result_id), ("clinic_id", a.clinic_id), ("device_id", a.device_id),
        ("started_at", a.started_at), ("origin", a.origin), ("rule", a.rule), ("measurement", a.measurement),
        ("value", a.value), ("unit", a.unit), ("threshold", a.threshold), ("standard", a.standard),
        ("centile", a.centile), ("severity", a.severity), ("message", a.message), ("ack_by", a.ack_by),
        ("ack_at", a.ack_at), ("ack_note", a.ack_note))}


def _history(db: Session, row: Result, clinics: Sequence[str] | None) -> list[Result]:
    """The chain of versions through `supersedes`, both ways, within what the viewer may see."""
    seen = {row.result_id: row}
    frontier = [row]
    for _ in range(HISTORY_DEPTH):
        ids = [r.result_id for r in frontier] + [r.supersedes for r in frontier if r.supersedes]
        stmt = scoped(select(Result).where(or_(Result.result_id.in_(ids), Result.supersedes.in_(ids))), Result,
                      clinics)
        frontier = [r for r in db.scalars(stmt) if r.result_id not in seen]
        if not frontier:
            break
        seen.update((r.result_id, r) for r in frontier)
    return sorted(seen.values(), key=lambda r: (r.saved_at, r.received_at))


def get_exam(db: Session, result_id: str, clinics: Sequence[str] | None) -> Exam | None:
    """The exam, or None when it does not exist or is not one of `clinics`' (the same answer)."""
    if len(result_id) != UUID_LEN:
        return None
    row = db.scalar(scoped(select(Result).where(Result.result_id == result_id), Result, clinics))
    if row is None:
        return None
    alerts = list(db.scalars(select(Alert).where(Alert.result_id == row.result_id).order_by(Alert.id)))
    return Exam(row, json.loads(row.payload), alerts, _history(db, row, clinics))


def pregnancy_exams(db: Session, exam: Exam, clinics: Sequence[str] | None) -> list[Result]:
    """The latest versions of the exams of this pregnancy. Payloads carry no pregnancy id; exams are linked
    only by the patient reference (when the receiver accepts them), else this exam stands alone."""
    ref = exam.row.patient_ref
    if not ref:
        return [exam.row]
    stmt = scoped(select(Result).where(Result.patient_ref == ref, Result.is_latest), Result, clinics)
    return list(db.scalars(stmt.order_by(Result.started_at).limit(100)))
