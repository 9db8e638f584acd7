"""Anomaly feedback, suggestion decisions, and the indexes the API's change feed and map use.

Revision ID: 000004
Revises: 000003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "000004"
down_revision = "000003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("anomalies") as batch:
        batch.add_column(sa.Column("feedback_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("feedback_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("feedback_note", sa.Text, nullable=True))
    op.create_index("ix_anomalies_updated_at", "anomalies", ["updated_at"])
    op.create_index(
        "ix_anomalies_timestamp_location_id_severity",
        "anomalies",
        ["timestamp", "location_id", "severity"],
    )
    with op.batch_alter_table("alarm_suggestions") as batch:
        batch.add_column(sa.Column("decided_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("decided_at", sa.DateTime, nullable=True))
    op.create_index("ix_alarm_suggestions_updated_at", "alarm_suggestions", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_alarm_suggestions_updated_at", table_name="alarm_suggestions")
    with op.batch_alter_table("alarm_suggestions") as batch:
        batch.drop_column("decided_at")
        batch.drop_column("decided_by")
    op.drop_index("ix_anomalies_timestamp_location_id_severity", table_name="anomalies")
    op.drop_index("ix_anomalies_updated_at", table_name="anomalies")
    with op.batch_alter_table("anomalies") as batch:
        batch.drop_column("feedback_note")
        batch.drop_column("feedback_at")
        batch.drop_column("feedback_by")
