"""Detect: per-series watermark (detect_state), cycles and their jobs (scale-out bookkeeping).

Revision ID: 000006
Revises: 000005
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "000006"
down_revision = "000005"
branch_labels = None
depends_on = None

TABLE_OPTIONS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def upgrade() -> None:
    op.create_table(
        "detect_state",
        sa.Column("location_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("metric_type", sa.String(32), primary_key=True),
        sa.Column("judged_until", sa.DateTime, nullable=False),
        sa.Column("model_fitted_at_s", sa.Double, nullable=True),
        sa.Column("rescan_from", sa.DateTime, nullable=True),
        sa.Column("cycle_id", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("location_id", "metric_type", name="pk_detect_state"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "detect_cycles",
        sa.Column("cycle_id", sa.String(64), nullable=False),
        sa.Column("planner", sa.String(128), nullable=False),
        sa.Column("jobs", sa.Integer, nullable=False),
        sa.Column("locations", sa.Integer, nullable=False),
        sa.Column("planned_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("summary", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("cycle_id", name="pk_detect_cycles"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_detect_cycles_planned_at", "detect_cycles", ["planned_at"])
    op.create_table(
        "detect_cycle_jobs",
        sa.Column("cycle_id", sa.String(64), nullable=False),
        sa.Column("job_no", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("worker", sa.String(128), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("locations", sa.Integer, nullable=False),
        sa.Column("series", sa.Integer, nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("anomalies_found", sa.Integer, nullable=False),
        sa.Column("anomalies_new", sa.Integer, nullable=False),
        sa.Column("suggestions_new", sa.Integer, nullable=False),
        sa.Column("suggestions_updated", sa.Integer, nullable=False),
        sa.Column("ml", sa.String(8), nullable=False),
        sa.Column("duration_s", sa.Double, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("cycle_id", "job_no", name="pk_detect_cycle_jobs"),
        **TABLE_OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("detect_cycle_jobs")
    op.drop_index("ix_detect_cycles_planned_at", table_name="detect_cycles")
    op.drop_table("detect_cycles")
    op.drop_table("detect_state")
