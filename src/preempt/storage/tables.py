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
# uses (one location, one or all metrics, a time range). On MySQL/MariaDB it is also the
# clustered primary key, with `id` a unique auto-increment column (migration 000007).
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

# --- alarms (issue 10) ---------------------------------------------------------------------
# A rule: fire when `value <operator> threshold` holds for for_s seconds at one location and
# metric; resolve once the value is `hysteresis` back. At most one rule per suggestion.
alarm_rules = sa.Table(
    "alarm_rules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("location_id", sa.Integer, nullable=False),
    sa.Column("metric_type", sa.String(32), nullable=False),
    sa.Column("operator", sa.String(4), nullable=False),
    sa.Column("threshold", sa.Double, nullable=False),
    sa.Column("hysteresis", sa.Double, nullable=False, server_default="0"),
    sa.Column("for_s", sa.Integer, nullable=False, server_default="0"),
    sa.Column("severity", sa.String(8), nullable=False, server_default="medium"),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("quiet_hours", sa.String(11), nullable=True),  # 'HH:MM-HH:MM' local time
    sa.Column("channels", sa.Text, nullable=False),  # JSON list of channel names; [] = defaults
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("suggestion_id", sa.Integer, nullable=True, unique=True),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index(None, "location_id", "metric_type"),
)

# Where each rule stands (written by the evaluator only).
alarm_states = sa.Table(
    "alarm_states",
    metadata,
    sa.Column("rule_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=True),
    sa.Column("breach_since", sa.DateTime, nullable=True),
    sa.Column("last_sample_at", sa.DateTime, nullable=True),
    sa.Column("last_value", sa.Double, nullable=True),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

# Every transition, once: (rule, new state, sample time) is the idempotency key. `notify` says
# what became of its notification: queued | silenced | quiet_hours | no_channels | none.
alarm_history = sa.Table(
    "alarm_history",
    metadata,
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
    sa.UniqueConstraint("rule_id", "to_state", "at"),
    sa.Index(None, "location_id", "id"),
    sa.Index(None, "recorded_at"),
)

# The outbox: one row per (transition, channel) is the dedupe key; the delivery worker claims
# pending rows, sends, and records sent/failed with the reason.
alarm_deliveries = sa.Table(
    "alarm_deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("history_id", sa.BigInteger, nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # pending | sending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("claimed_by", sa.String(128), nullable=True),
    sa.Column("sent_at", sa.DateTime, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("history_id", "channel"),
    sa.Index(None, "status", "next_attempt_at"),
)

# Silences / maintenance windows: of one rule, or of every rule of a location.
alarm_silences = sa.Table(
    "alarm_silences",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rule_id", sa.Integer, nullable=True),
    sa.Column("location_id", sa.Integer, nullable=True),
    sa.Column("starts_at", sa.DateTime, nullable=False),
    sa.Column("ends_at", sa.DateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index(None, "ends_at"),
)

# The evaluator's watermark: the highest metrics.id it has judged.
alarm_cursor = sa.Table(
    "alarm_cursor",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("last_id", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

# --- detect (issue 6) ---------------------------------------------------------------------
# The detect watermark: per series, the newest sample judged, the ML model that judged it
# (fitted_at, epoch s) and, when a retrained model should look again, where to rescan from.
detect_state = sa.Table(
    "detect_state",
    metadata,
    sa.Column("location_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("metric_type", sa.String(32), primary_key=True),
    sa.Column("judged_until", sa.DateTime, nullable=False),
    sa.Column("model_fitted_at_s", sa.Double, nullable=True),
    sa.Column("rescan_from", sa.DateTime, nullable=True),
    sa.Column("cycle_id", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    # The series' record over every sample up to judged_until (detection.records).
    sa.Column("record_high", sa.Double, nullable=True),
    sa.Column("record_low", sa.Double, nullable=True),
    sa.Column("record_since", sa.DateTime, nullable=True),
)

# One row per detect cycle (planned by whoever held the lock) and one per job of it (a batch of
# locations, done by one worker): the split of work, its figures and the cycle's summary.
detect_cycles = sa.Table(
    "detect_cycles",
    metadata,
    sa.Column("cycle_id", sa.String(64), primary_key=True),
    sa.Column("planner", sa.String(128), nullable=False),
    sa.Column("jobs", sa.Integer, nullable=False),
    sa.Column("locations", sa.Integer, nullable=False),
    sa.Column("planned_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=True),
    sa.Column("summary", sa.Text, nullable=True),
    sa.Index(None, "planned_at"),
)

detect_cycle_jobs = sa.Table(
    "detect_cycle_jobs",
    metadata,
    sa.Column("cycle_id", sa.String(64), primary_key=True),
    sa.Column("job_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("worker", sa.String(128), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("locations", sa.Integer, nullable=False),
    sa.Column("series", sa.Integer, nullable=False),
    sa.Column("samples", sa.Integer, nullable=False),
    sa.Column("anomalies_found", sa.Integer, nullable=False),
    sa.Column("anomalies_new", sa.Integer, nullable=False),
    sa.Column("suggestions_new", sa.Integer, nullable=False),
    sa.Column("suggestions_updated", sa.Integer, nullable=False),
    sa.Column("ml", sa.String(8), nullable=False),  # on | off | partial | none
    sa.Column("duration_s", sa.Double, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=False),
)
