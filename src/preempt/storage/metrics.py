"""Metric samples: bulk idempotent writes and the reads every service needs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from preempt.domain import Sample
from preempt.storage.tables import metrics
from preempt.storage.upsert import upsert_rows

SAMPLE_KEY = ("location_id", "metric_type", "timestamp")


def write_samples(conn: Connection, samples: Iterable[Sample]) -> int:
    """Upsert samples (a re-sent sample overwrites its value, never adds a row); returns count."""
    rows = [
        {"timestamp": s.timestamp, "location_id": s.location_id,
         "metric_type": s.metric_type, "value": s.value}
        for s in samples
    ]
    upsert_rows(conn, metrics, rows, key=SAMPLE_KEY, update=("value",))
    return len(rows)


def newest_sample_times(conn: Connection) -> dict[int, datetime]:
    """location_id -> timestamp of its newest stored sample (locations without data absent)."""
    query = sa.select(metrics.c.location_id, sa.func.max(metrics.c.timestamp)).group_by(
        metrics.c.location_id
    )
    return {int(loc): ts for loc, ts in conn.execute(query)}


def count_samples(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(metrics)).scalar_one())
