"""Initial schema: metrics, anomalies, alarm_suggestions (SEED.md 000001_initial_schema).

Revision ID: 000001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from preempt.storage.types import BigId

revision = "000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metrics",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("timestamp", sa.DateTime, nullable=False),
        sa.Column("location_id", sa.Integer, nullable=False),
        sa.Column("metric_type", sa.String(32), nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.UniqueConstraint(
            "location_id", "metric_type", "timestamp",
            name="uq_metrics_location_id_metric_type_timestamp",
        ),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )
    op.create_table(
        "anomalies",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("timestamp", sa.DateTime, nullable=False),
        sa.Column("location_id", sa.Integer, nullable=False),
        sa.Column("metric_type", sa.String(32), nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("z_score", sa.Double, nullable=True),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("score", sa.Double, nullable=False),
        sa.Column("methods", sa.String(64), nullable=False),
        sa.Column("expected", sa.Double, nullable=True),
        sa.Column("lower", sa.Double, nullable=True),
        sa.Column("upper", sa.Double, nullable=True),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("detected_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint(
            "location_id", "metric_type", "timestamp",
            name="uq_anomalies_location_id_metric_type_timestamp",
        ),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )
    op.create_index(
        "ix_anomalies_location_id_timestamp", "anomalies", ["location_id", "timestamp"]
    )
    op.create_table(
        "alarm_suggestions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("location_id", sa.Integer, nullable=False),
        sa.Column("metric_type", sa.String(32), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("threshold", sa.Double, nullable=False),
        sa.Column("operator", sa.String(4), nullable=False),
        sa.Column("suggested_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("confidence", sa.Double, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("anomaly_count", sa.Integer, nullable=False),
        sa.Column("caught", sa.Integer, nullable=False, server_default="0"),
        sa.Column("missed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("false_fires", sa.Integer, nullable=False, server_default="0"),
        sa.Column("fires_per_week", sa.Double, nullable=False, server_default="0"),
        sa.Column("percentile", sa.Double, nullable=True),
        sa.Column("persistence_k", sa.Integer, nullable=False, server_default="1"),
        sa.Column("persistence_n", sa.Integer, nullable=False, server_default="1"),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("dismiss_reason", sa.Text, nullable=True),
        sa.UniqueConstraint(
            "location_id", "metric_type", "direction",
            name="uq_alarm_suggestions_location_id_metric_type_direction",
        ),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )


def downgrade() -> None:
    op.drop_table("alarm_suggestions")
    op.drop_index("ix_anomalies_location_id_timestamp", table_name="anomalies")
    op.drop_table("anomalies")
    op.drop_table("metrics")
