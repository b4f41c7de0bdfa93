"""Dashboard users (receiver.web.models): users, the clinics a clinic user may see, failed logins, and the
key that signs session cookies.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from receiver.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("login_failures",
                    sa.Column("key", sa.String(length=200), nullable=False),
                    sa.Column("failures", sa.Integer(), nullable=False),
                    sa.Column("last_at", sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint("key", name=op.f("pk_login_failures")))
    op.create_table("session_secret",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("secret", sa.String(length=128), nullable=False),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_session_secret")))
    op.create_table("users",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("name", sa.String(length=64), nullable=False),
                    sa.Column("password_hash", sa.String(length=200), nullable=False),
                    sa.Column("role", sa.String(length=16), nullable=False),
                    sa.Column("disabled", sa.Boolean(), nullable=False),
                    sa.Column("session_epoch", sa.Integer(), nullable=False),
                    sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
                    sa.UniqueConstraint("name", name=op.f("uq_users_name")))
    op.create_table("user_clinics",
                    sa.Column("user_id", sa.Integer(), nullable=False),
                    sa.Column("clinic_id", sa.String(length=64), nullable=False),
                    sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_clinics_user_id_users"),
                                            ondelete="CASCADE"),
                    sa.PrimaryKeyConstraint("user_id", "clinic_id", name=op.f("pk_user_clinics")))


def downgrade() -> None:
    for table in ("user_clinics", "users", "session_secret", "login_failures"):
        op.drop_table(table)
