"""The alert queue (clinical alerts from the device and implausible values the receiver found), newest exam
first, and acknowledging one with a note: who and when are kept, the alert itself never changes."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from receiver.models import NAME_MAX, Alert
from receiver.web.data.scope import Page, paged, scoped
from receiver.web.filters import Filters

STATES = ("open", "acknowledged", "all")
NOTE_MAX = 2000


class AckRefused(Exception):
    """The acknowledgement cannot be kept; the message says why (shown to the user, 4xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def alert_queue(db: Session, clinics: Sequence[str] | None, f: Filters, state: str, severity: str | None,
                per_page: int) -> Page[Alert]:
    stmt = scoped(select(Alert), Alert, clinics, f)
    if state == "open":
        stmt = stmt.where(Alert.ack_at.is_(None))
    elif state == "acknowledged":
        stmt = stmt.where(Alert.ack_at.is_not(None))
    if severity:
        stmt = stmt.where(Alert.severity == severity)
    page = paged(db, stmt.order_by(Alert.started_at.desc(), Alert.id.desc()), f.page, per_page)
    return Page([r[0] for r in page.items], page.page, page.per_page, page.has_next)


def acknowledge(db: Session, alert_id: int, clinics: Sequence[str] | None, by: str, note: str) -> Alert:
    """Mark the alert acknowledged by `by` now with `note`; an alert the viewer may not see is 'not found'."""
    note = note.strip()
    if not note:
        raise AckRefused(400, "write a note: what was done about this alert (e.g. 'referred to district hospital')")
    if len(note) > NOTE_MAX:
        raise AckRefused(400, f"the note has {len(note)} characters; at most {NOTE_MAX}")
    alert = db.scalar(scoped(select(Alert).where(Alert.id == alert_id), Alert, clinics).with_for_update())
    if alert is None:
        raise AckRefused(404, "no such alert, or not one of your clinics'")
    if alert.ack_at is not None:
        raise AckRefused(409, f"already acknowledged by {alert.ack_by} at {alert.ack_at:%Y-%m-%d %H:%M} UTC")
    alert.ack_by, alert.ack_at, alert.ack_note = by[:NAME_MAX], datetime.now(timezone.utc), note
    db.commit()
    return alert

