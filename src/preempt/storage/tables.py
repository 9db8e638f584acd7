"""Table definitions (SQLAlchemy Core). Migrations in storage/migrations create the same schema.

Every table a service writes has a unique key on what makes a row the same fact, so that every
write is an idempotent upsert: a sample stored twice, or an anomaly detected twice, is one row.
Timestamps are naive UTC datetimes.
"""

from __future__ import annotations

import sqlalchemy as sa

from preempt.storage.types import BigId, name_type

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

locations = sa.Table(
    "locations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", name_type(200), nullable=False, unique=True),
    sa.Column("latitude", sa.Double, nullable=False),
    sa.Column("longitude", sa.Double, nullable=False),
    sa.Column("country_code", sa.String(2), nullable=False, server_default=""),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
    sa.Column("created_at", sa.DateTime, nullable=False, server_default=sa.func.now()),
)

# 10,000 locations x 5 metrics x (168 hourly + 288 five-minute values a day): the unique key
# (location_id, metric_type, timestamp) is both the idempotency key and the index every read
# uses (one location, one or all metrics, a time range).
metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("timestamp", sa.DateTime, nullable=False),
    sa.Column("location_id", sa.Integer, nullable=False),
    sa.Column("metric_type", sa.String(32), nullable=False),
    sa.Column("value", sa.Double, nullable=False),
    sa.UniqueConstraint("location_id", "metric_type", "timestamp"),
)

anomalies = sa.Table(
    "anomalies",
    metadata,
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
    # A user's verdict (status false_positive | confirmed): who, when, why. Detect never writes it.
    sa.Column("feedback_by", sa.String(64), nullable=True),
    sa.Column("feedback_at", sa.DateTime, nullable=True),
    sa.Column("feedback_note", sa.Text, nullable=True),
    sa.UniqueConstraint("location_id", "metric_type", "timestamp"),
    sa.Index(None, "location_id", "timestamp"),
    # The API's change feed polls by updated_at; the map counts by time window over all locations.
    sa.Index(None, "updated_at"),
    sa.Index(None, "timestamp", "location_id", "severity"),
)

alarm_suggestions = sa.Table(
    "alarm_suggestions",
    metadata,
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
    # Who accepted or dismissed it, and when (status accepted | dismissed).
    sa.Column("decided_by", sa.String(64), nullable=True),
    sa.Column("decided_at", sa.DateTime, nullable=True),
    sa.UniqueConstraint("location_id", "metric_type", "direction"),
    sa.Index(None, "updated_at"),
)

# One row per running service instance: its last beat and a small JSON status (what the
# dashboard's system status and /health show). Works the same embedded and distributed.
service_heartbeats = sa.Table(
    "service_heartbeats",
    metadata,
    sa.Column("service", sa.String(32), primary_key=True),
    sa.Column("instance", sa.String(128), primary_key=True),
    sa.Column("beat_at", sa.DateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("info", sa.Text, nullable=False),
)
