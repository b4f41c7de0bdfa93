"""The dashboard's tables, on the receiver's one declarative Base (migration 0003): users with an argon2
password hash and a role, the clinics a clinic user may see, failed logins (to slow down guessing), and the
key that signs session cookies.

Roles: `programme` sees every clinic; `clinic` sees only its own clinics; `admin` sees every clinic and
manages users and devices.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from receiver.models import Alert, Base, Result, UTCDateTime

ROLES = ("programme", "clinic", "admin")
NAME_MAX = 64


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)   # bumped: every session of the user ends
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    clinics: Mapped[list["UserClinic"]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def clinic_ids(self) -> list[str]:
        return sorted(c.clinic_id for c in self.clinics)

    @property
    def sees_all(self) -> bool:
        return self.role in ("programme", "admin")


class UserClinic(Base):
    __tablename__ = "user_clinics"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class LoginFailure(Base):
    """Failed logins per key ("user:<name>" or "ip:<address>"), to slow down guessing."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[float] = mapped_column(Float, default=0.0)


class SessionSecret(Base):
    """The key that signs session cookies, made on first start and shared by every dashboard process."""

    __tablename__ = "session_secret"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))


# Indexes the dashboard's queries need (migration 0004; timings in benchmarks/dashboard_pages.py, docs/dashboard.md).
# Declared here, on the receiver's tables, so the models and the migrations stay one schema.
DASHBOARD_INDEXES = (
    # overview: exams per clinic and week in a date range, read from the index alone (no 2 KB payload rows)
    Index("results_overview", Result.started_at, Result.clinic_id, Result.week, Result.has_measurement,
          Result.flagged, Result.is_latest),
    # one clinic's (or district's) exams by time: its overview rows from the index alone, its exams newest
    # first, the clinics page's counts and last exam
    Index("results_by_clinic_started", Result.clinic_id, Result.started_at, Result.is_latest, Result.week,
          Result.has_measurement, Result.flagged),
    # the growth chart: the visits of one pregnancy (patient reference, when accepted)
    Index("results_by_patient", Result.patient_ref),
    # the alert queue newest first (open, or every alert), with the id as tie-break
    Index("alerts_queue", Alert.ack_at, Alert.started_at, Alert.id),
    Index("alerts_newest", Alert.started_at, Alert.id),
)
