"""The receiver's tables (SQLAlchemy 2.x declarative models on one `Base`): the contract the dashboard codes against.

Times are `UTCDateTime`: stored in UTC, always read back timezone-aware (UTC) on SQLite and PostgreSQL alike.
Free text arriving in payloads is bounded before it is stored (see receiver.extract) and must be escaped by
whoever displays it. Ids (`clinic_id`, `device_id`) follow edge.sync.checks.ID_RE (1-64 of A-Za-z0-9_.-).

clinics      clinic_id PK; name, district (<= 200 chars, NULL until an admin sets them); created_at.
devices      (clinic_id -> clinics, device_id) PK; registered_at; last_seen_at (last result or telemetry
             received, NULL if none yet). Only registered devices' results are stored.
results      one row per exam result, written once (idempotent on result_id, never updated except
             `is_latest`, which turns false when a newer result supersedes it).
             payload: the canonical JSON as received (the whole truth: models, plausibility, methods, reasons);
             content_sha256 of that text. Typed columns extracted from any known schema version (a field
             absent in that version is NULL):
               result_id, clinic_id, device_id, schema_version, status ("complete"|"partial"),
               started_at, saved_at, received_at (UTC), lag_s (received - saved, >= 0),
               week (date of the Monday of started_at's UTC week: exams per week per clinic),
               <m>_value, <m>_flag, <m>_centile for m in hc bpd ofd ac fl ga efw (units: mm, ga in days, efw g;
                 centile 0..100 only from schema 1.1 with an established GA),
               ga_days (the exam's GA: dating.ga_days in 1.1, else the ga measurement), ga_source
                 ("established"|"biometry"|NULL), edd (date),
               has_measurement (any of hc bpd ofd ac fl has a value),
               flagged (a measurement flagged low_quality/implausible/out_of_range, a failed plausibility
                 check, or an exam flag; no_measurement alone is not flagged),
               alert_count (rows in `alerts` for it), alert_severity (highest: refer > review > info),
               review_state ("unreviewed"|"accepted"|"corrected"|NULL in 1.0), review_by, review_at,
               supersedes (result_id it replaces or NULL), is_latest,
               plane_frames, plane_unknown_frames, plane_mean_confidence (plane_summary in 1.1; in 1.0 the
                 sum of planes_seen and its "unknown" count, confidence NULL),
               patient_ref (only when the receiver runs with --accept-patient-ref; show only then).
alerts       one row per alert of a result: id PK, result_id -> results, clinic_id, device_id, started_at (of
             the exam; the queue is newest first), origin ("device": from the payload's alerts;
             "receiver": a measurement flagged implausible/out_of_range or a failed plausibility check),
             rule, measurement, value, unit, threshold, standard, centile, severity ("refer"|"review"|"info"),
             message, created_at (received); ack_by, ack_at, ack_note: written by the dashboard when a user
             acknowledges it (open = ack_at IS NULL).
telemetry    latest message per device: (clinic_id, device_id) PK, received_at, at, free_disk_mb, outbox_len,
             last_exam_fps, last_sync_at, store_warning, models (JSON text: [{name, version, sha256}]), payload.
telemetry_history  every telemetry message (same columns, id PK): per-device weekly views; receivers delete
             rows older than `serve --keep-telemetry-days` (default 90).
held         results kept raw, acknowledged to the broker, not yet stored: kind "newer_schema" (a schema version
             newer than this receiver knows; stored when an upgraded receiver starts) or "unknown_device"
             (stored when `fetal-receiver add-device` registers it). id PK, received_at, topic, kind,
             schema_version, result_id, clinic_id, device_id, sha256, payload, last_error.
rejected     log of refused messages: id PK, received_at, topic, reason (<= 300 chars), size, sha256.
receivers    one row per receiver process (client_id PK), its heartbeat every few seconds: host, pid, broker,
             started_at, updated_at, broker_connected, subscribed, last_message_at, last_error, stored,
             duplicates, rejected, held. A row not updated for a while is a receiver that is not running;
             receiver.health reads it (for /health and `fetal-receiver status`).

Users/sessions (receiver.web) are declared on this same `Base`; see receiver/migrations/README.md.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from sqlalchemy import (Boolean, Date, DateTime, Float, ForeignKey, ForeignKeyConstraint, Index, Integer,
                        MetaData, String, Text, true)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

MEASUREMENTS = ("hc", "bpd", "ofd", "ac", "fl", "ga", "efw")
NAME_MAX = 200          # clinic name, district, reviewer and acknowledger names
REASON_MAX = 300        # rejected.reason


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out (SQLite keeps no zone; PostgreSQL uses timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give a timezone-aware time (UTC)")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    # named constraints: Alembic can alter them on SQLite (batch mode) and PostgreSQL alike
    metadata = MetaData(naming_convention={"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
                                           "ck": "ck_%(table_name)s_%(constraint_name)s",
                                           "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
                                           "pk": "pk_%(table_name)s"})


class Clinic(Base):
    __tablename__ = "clinics"
    clinic_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    district: Mapped[str | None] = mapped_column(String(NAME_MAX), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Device(Base):
    __tablename__ = "devices"
    clinic_id: Mapped[str] = mapped_column(String(64), ForeignKey("clinics.clinic_id"), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    __table_args__ = (Index("devices_by_last_seen", "last_seen_at"),)


class Result(Base):
    __tablename__ = "results"
    result_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    schema_version: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lag_s: Mapped[float] = mapped_column(Float)
    week: Mapped[date] = mapped_column(Date)
    content_sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    hc_value: Mapped[float | None] = mapped_column(Float)
    hc_flag: Mapped[str | None] = mapped_column(String(32))
    hc_centile: Mapped[float | None] = mapped_column(Float)
    bpd_value: Mapped[float | None] = mapped_column(Float)
    bpd_flag: Mapped[str | None] = mapped_column(String(32))
    bpd_centile: Mapped[float | None] = mapped_column(Float)
    ofd_value: Mapped[float | None] = mapped_column(Float)
    ofd_flag: Mapped[str | None] = mapped_column(String(32))
    ofd_centile: Mapped[float | None] = mapped_column(Float)
    ac_value: Mapped[float | None] = mapped_column(Float)
    ac_flag: Mapped[str | None] = mapped_column(String(32))
    ac_centile: Mapped[float | None] = mapped_column(Float)
    fl_value: Mapped[float | None] = mapped_column(Float)
    fl_flag: Mapped[str | None] = mapped_column(String(32))
    fl_centile: Mapped[float | None] = mapped_column(Float)
    ga_value: Mapped[float | None] = mapped_column(Float)
    ga_flag: Mapped[str | None] = mapped_column(String(32))
    ga_centile: Mapped[float | None] = mapped_column(Float)
    efw_value: Mapped[float | None] = mapped_column(Float)
    efw_flag: Mapped[str | None] = mapped_column(String(32))
    efw_centile: Mapped[float | None] = mapped_column(Float)
    ga_days: Mapped[float | None] = mapped_column(Float)
    ga_source: Mapped[str | None] = mapped_column(String(16))
    edd: Mapped[date | None] = mapped_column(Date)
    has_measurement: Mapped[bool] = mapped_column(Boolean)
    flagged: Mapped[bool] = mapped_column(Boolean)
    alert_count: Mapped[int] = mapped_column(Integer)
    alert_severity: Mapped[str | None] = mapped_column(String(16))
    review_state: Mapped[str | None] = mapped_column(String(16))
    review_by: Mapped[str | None] = mapped_column(String(NAME_MAX))
    review_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    supersedes: Mapped[str | None] = mapped_column(String(36), index=True)
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    plane_frames: Mapped[int | None] = mapped_column(Integer)
    plane_unknown_frames: Mapped[int | None] = mapped_column(Integer)
    plane_mean_confidence: Mapped[float | None] = mapped_column(Float)
    patient_ref: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        ForeignKeyConstraint(["clinic_id", "device_id"], ["devices.clinic_id", "devices.device_id"]),
        Index("results_by_device", "clinic_id", "device_id", "started_at"),
        Index("results_by_clinic_week", "clinic_id", "week"),
        Index("results_by_week", "week"),
        Index("results_by_started", "started_at"),
        Index("results_flagged", "flagged", "started_at"),
    )


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    result_id: Mapped[str] = mapped_column(String(36), ForeignKey("results.result_id"), index=True)
    clinic_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    origin: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(64))
    measurement: Mapped[str | None] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(16))
    threshold: Mapped[str | None] = mapped_column(String(100))
    standard: Mapped[str | None] = mapped_column(String(NAME_MAX))
    centile: Mapped[float | None] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ack_by: Mapped[str | None] = mapped_column(String(NAME_MAX))
    ack_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ack_note: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        Index("alerts_open_newest", "ack_at", "started_at"),
        Index("alerts_by_clinic", "clinic_id", "ack_at", "started_at"),
    )


class _TelemetryColumns:
    clinic_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    free_disk_mb: Mapped[float | None] = mapped_column(Float)
    outbox_len: Mapped[int | None] = mapped_column(Integer)
    last_exam_fps: Mapped[float | None] = mapped_column(Float)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    store_warning: Mapped[str | None] = mapped_column(Text)
    models: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)


class Telemetry(_TelemetryColumns, Base):
    __tablename__ = "telemetry"
    clinic_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class TelemetryHistory(_TelemetryColumns, Base):
    __tablename__ = "telemetry_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    __table_args__ = (Index("telemetry_history_by_device", "clinic_id", "device_id", "at"),)


class Held(Base):
    __tablename__ = "held"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    topic: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    schema_version: Mapped[str | None] = mapped_column(String(16))
    result_id: Mapped[str | None] = mapped_column(String(36), index=True)
    clinic_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("held_by_kind", "kind", "clinic_id", "device_id"),)


class Rejected(Base):
    __tablename__ = "rejected"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    topic: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    __table_args__ = (Index("rejected_by_time", "received_at"),)


class ReceiverProcess(Base):
    __tablename__ = "receivers"
    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(NAME_MAX))
    pid: Mapped[int] = mapped_column(Integer)
    broker: Mapped[str] = mapped_column(String(NAME_MAX))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    broker_connected: Mapped[bool] = mapped_column(Boolean)
    subscribed: Mapped[bool] = mapped_column(Boolean)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    stored: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    held: Mapped[int] = mapped_column(Integer)
