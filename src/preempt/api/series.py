"""The one query behind GET /metrics: a location's samples of some metrics over a time range.

`metric_type IN (...)` with a timestamp range lets the unique index (location_id, metric_type,
timestamp) serve all three columns; rows come back grouped by metric, oldest first. Timestamps
are read as text and reshaped to ISO 8601 (parsing 1,440 datetimes per request and formatting
them again was most of the time of a 24-hour chart).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from preempt.storage.tables import locations, metrics

# metric -> (ISO 8601 UTC timestamps 'YYYY-MM-DDTHH:MM:SS+00:00', values)
SeriesRows = dict[str, tuple[list[str], list[float]]]


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def iso_utc(moment: datetime) -> str:
    """The wire form of a sample time (whole seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def series_query(
    location: int | str, metric_types: Sequence[str], since: datetime, until: datetime
) -> sa.Select[Any]:
    """By location id, or by name through a join on the unique name (still one query)."""
    c = metrics.c
    query = sa.select(c.metric_type, sa.cast(c.timestamp, sa.String).label("ts"), c.value)
    if isinstance(location, str):
        query = query.join(locations, locations.c.id == c.location_id).where(
            locations.c.name == location
        )
    else:
        query = query.where(c.location_id == location)
    return query.where(
        c.metric_type.in_(list(metric_types)),
        c.timestamp >= _naive(since), c.timestamp < _naive(until),
    ).order_by(c.metric_type, c.timestamp)


def read_series(
    conn: Connection,
    location: int | str,
    metric_types: Sequence[str],
    *,
    since: datetime,
    until: datetime,
) -> SeriesRows:
    """metric -> (ISO timestamps, values) in [since, until), every metric present."""
    out: SeriesRows = {m: ([], []) for m in metric_types}
    for metric, raw, value in conn.execute(
        series_query(location, metric_types, since, until)
    ).tuples().all():
        times, values = out[metric]
        # 'YYYY-MM-DD HH:MM:SS[.ffffff]' (MySQL/MariaDB and SQLite alike) -> ISO 8601 UTC
        times.append(f"{raw[:10]}T{raw[11:19]}+00:00")
        values.append(value)
    return out
