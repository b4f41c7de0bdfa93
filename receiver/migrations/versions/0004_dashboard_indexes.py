"""Indexes for the dashboard's queries (receiver.web.models.DASHBOARD_INDEXES): the overview's weekly counts
from the index alone, one clinic's exams by time, a pregnancy's visits, and the alert queue newest first.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEXES = {
    "results_overview": ("results", ["started_at", "clinic_id", "week", "has_measurement", "flagged", "is_latest"]),
    "results_by_clinic_started": ("results", ["clinic_id", "started_at", "is_latest", "week", "has_measurement",
                                              "flagged"]),
    "results_by_patient": ("results", ["patient_ref"]),
    "alerts_queue": ("alerts", ["ack_at", "started_at", "id"]),
    "alerts_newest": ("alerts", ["started_at", "id"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
