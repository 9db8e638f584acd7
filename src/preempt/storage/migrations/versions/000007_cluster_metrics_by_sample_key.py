"""MySQL/MariaDB: cluster metrics by (location_id, metric_type, timestamp).

InnoDB stores rows in primary-key order. With the auto-increment id as primary key, one
location's day of samples is spread over every page written that day, so a 24-hour read of one
location touches hundreds of pages. Clustered by the sample key, the same read is one short
range, and the separate unique index disappears (less to maintain on every insert). `id` stays,
unique and auto-increment, for the watermarks that read samples in arrival order. SQLite and
PostgreSQL keep their layout (SQLite only auto-increments a rowid primary key).

Revision ID: 000007
Revises: 000006
"""

from __future__ import annotations

from alembic import op

revision = "000007"
down_revision = "000006"
branch_labels = None
depends_on = None


def _is_mysql() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    if _is_mysql():
        op.execute(
            "ALTER TABLE metrics DROP PRIMARY KEY, "
            "ADD PRIMARY KEY (location_id, metric_type, timestamp), "
            "ADD UNIQUE KEY uq_metrics_id (id), "
            "DROP INDEX uq_metrics_location_id_metric_type_timestamp"
        )


def downgrade() -> None:
    if _is_mysql():
        op.execute(
            "ALTER TABLE metrics DROP PRIMARY KEY, ADD PRIMARY KEY (id), "
            "ADD UNIQUE KEY uq_metrics_location_id_metric_type_timestamp "
            "(location_id, metric_type, timestamp), DROP INDEX uq_metrics_id"
        )
