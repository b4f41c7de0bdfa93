"""The schema of the hand-written receiver (receiver/db.py before SQLAlchemy), verbatim.

A database made by that receiver has these tables and no alembic_version; receiver.database.migrate stamps it
at this revision and upgrades it from here.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LEGACY_DDL = (
    "CREATE TABLE IF NOT EXISTS devices (clinic_id TEXT NOT NULL, device_id TEXT NOT NULL, "
    "registered_at TEXT NOT NULL, PRIMARY KEY (clinic_id, device_id))",
    "CREATE TABLE IF NOT EXISTS results (result_id TEXT PRIMARY KEY, clinic_id TEXT NOT NULL, "
    "device_id TEXT NOT NULL, started_at TEXT NOT NULL, saved_at TEXT NOT NULL, received_at TEXT NOT NULL, "
    "lag_s DOUBLE PRECISION NOT NULL, content_sha256 TEXT NOT NULL, payload TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS results_by_device ON results (clinic_id, device_id, started_at)",
    "CREATE TABLE IF NOT EXISTS rejected (received_at TEXT NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL, "
    "size INTEGER NOT NULL, sha256 TEXT NOT NULL, held_payload TEXT)",
    "CREATE TABLE IF NOT EXISTS telemetry (clinic_id TEXT NOT NULL, device_id TEXT NOT NULL, "
    "received_at TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (clinic_id, device_id))",
)


def upgrade() -> None:
    for stmt in LEGACY_DDL:
        op.execute(stmt)


def downgrade() -> None:
    for table in ("telemetry", "rejected", "results", "devices"):
        op.drop_table(table)
