"""Alarms: rules, their states, transition history, the delivery outbox, silences, watermark.

Revision ID: 000005
Revises: 000004
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "000005"
down_revision = "000004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def upgrade() -> None:
    op.create_table(
        "alarm_rules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("location_id", sa.Integer, nullable=False),
        sa.Column("metric_type", sa.String(32), nullable=False),
        sa.Column("operator", sa.String(4), nullable=False),
        sa.Column("threshold", sa.Double, nullable=False),
        sa.Column("hysteresis", sa.Double, nullable=False, server_default="0"),
        sa.Column("for_s", sa.Integer, nullable=False, server_default="0"),
        sa.Column("severity", sa.String(8), nullable=False, server_default="medium"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("quiet_hours", sa.String(11), nullable=True),
        sa.Column("channels", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("suggestion_id", sa.Integer, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alarm_rules"),
        sa.UniqueConstraint("suggestion_id", name="uq_alarm_rules_suggestion_id"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_alarm_rules_location_id_metric_type", "alarm_rules",
                    ["location_id", "metric_type"])
    op.create_table(
        "alarm_states",
        sa.Column("rule_id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=True),
        sa.Column("breach_since", sa.DateTime, nullable=True),
        sa.Column("last_sample_at", sa.DateTime, nullable=True),
        sa.Column("last_value", sa.Double, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("rule_id", name="pk_alarm_states"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "alarm_history",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.Integer, nullable=False),
        sa.Column("location_id", sa.Integer, nullable=False),
        sa.Column("metric_type", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(10), nullable=False),
        sa.Column("to_state", sa.String(10), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("threshold", sa.Double, nullable=False),
        sa.Column("notify", sa.String(16), nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alarm_history"),
        sa.UniqueConstraint("rule_id", "to_state", "at",
                            name="uq_alarm_history_rule_id_to_state_at"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_alarm_history_location_id_id", "alarm_history", ["location_id", "id"])
    op.create_index("ix_alarm_history_recorded_at", "alarm_history", ["recorded_at"])
    op.create_table(
        "alarm_deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("history_id", sa.BigInteger, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        sa.Column("sent_at", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alarm_deliveries"),
        sa.UniqueConstraint("history_id", "channel",
                            name="uq_alarm_deliveries_history_id_channel"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_alarm_deliveries_status_next_attempt_at", "alarm_deliveries",
                    ["status", "next_attempt_at"])
    op.create_table(
        "alarm_silences",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.Integer, nullable=True),
        sa.Column("location_id", sa.Integer, nullable=True),
        sa.Column("starts_at", sa.DateTime, nullable=False),
        sa.Column("ends_at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alarm_silences"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_alarm_silences_ends_at", "alarm_silences", ["ends_at"])
    op.create_table(
        "alarm_cursor",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_alarm_cursor"),
        **TABLE_OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("alarm_cursor")
    op.drop_index("ix_alarm_silences_ends_at", table_name="alarm_silences")
    op.drop_table("alarm_silences")
    op.drop_index("ix_alarm_deliveries_status_next_attempt_at", table_name="alarm_deliveries")
    op.drop_table("alarm_deliveries")
    op.drop_index("ix_alarm_history_recorded_at", table_name="alarm_history")
    op.drop_index("ix_alarm_history_location_id_id", table_name="alarm_history")
    op.drop_table("alarm_history")
    op.drop_index("ix_alarm_rules_location_id_metric_type", table_name="alarm_rules")
    op.drop_table("alarm_rules")
    op.drop_table("alarm_states")
