"""Service heartbeats for /health and the dashboard's system status.

Revision ID: 000003
Revises: 000002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "000003"
down_revision = "000002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_heartbeats",
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("instance", sa.String(128), nullable=False),
        sa.Column("beat_at", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("info", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("service", "instance", name="pk_service_heartbeats"),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )


def downgrade() -> None:
    op.drop_table("service_heartbeats")
