"""Metric samples: bulk idempotent writes and the reads every service needs.

Writes are the hot path of the store service, so MySQL/MariaDB get multi-row
INSERT ... ON DUPLICATE KEY UPDATE statements built as literal SQL from values whose types we
control (int, a checked metric name, a formatted timestamp, a finite float), and SQLite gets the
driver's executemany; timestamps are formatted once per series, not once per sample.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from preempt.domain import Sample
from preempt.storage.tables import metrics
from preempt.storage.upsert import upsert_rows

SAMPLE_KEY = ("location_id", "metric_type", "timestamp")
# Rows per statement: ~60 bytes each in MySQL literal form, far below max_allowed_packet.
CHUNK_ROWS = 10_000

_METRIC_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
Row = tuple[int, str, str, float]  # location_id, metric_type, timestamp literal, value


@dataclass(frozen=True, slots=True)
class SampleColumns:
    """Readings of one location in columns: values[metric][i] was taken at times[i] (naive UTC);
    None means no reading."""

    location_id: int
    times: Sequence[datetime]
    values: Mapping[str, Sequence[float | None]]


def write_samples(conn: Connection, samples: Iterable[Sample]) -> int:
    """Upsert samples (a re-sent sample overwrites its value, never adds a row); returns count."""
    fmt = _time_format(conn)
    it = iter(samples)
    parts = iter(lambda: [(s.location_id, s.metric_type, fmt(s.timestamp), s.value)
                          for s in islice(it, 1000)], [])
    return _write_rows(conn, parts)


def write_columns(conn: Connection, series: Iterable[SampleColumns]) -> int:
    """Upsert columnar samples (the store's fast path); returns how many samples were written."""
    fmt = _time_format(conn)
    if conn.dialect.name in ("mysql", "mariadb"):
        return _send_mysql(conn, _column_literals(series, fmt))
    return _write_rows(conn, _column_rows(series, fmt))


def _column_literals(series: Iterable[SampleColumns], fmt: _Formatter) -> Iterator[list[str]]:
    """MySQL row literals, one list per column of a series (no per-sample tuples)."""
    for cols in series:
        stamps = [fmt(t) for t in cols.times]
        loc = int(cols.location_id)
        for metric, column in cols.values.items():
            _check_metric(metric)
            if len(column) != len(stamps):
                raise ValueError(f"{metric} has {len(column)} values for {len(stamps)} times")
            if not all(v is None or math.isfinite(v) for v in column):
                raise ValueError(f"not a finite value in {metric} of location {loc}")
            head = f"({loc:d},'{metric}','"
            yield [f"{head}{stamp}',{float(v)!r})"
                   for stamp, v in zip(stamps, column, strict=True) if v is not None]


def _column_rows(series: Iterable[SampleColumns], fmt: _Formatter) -> Iterator[list[Row]]:
    """Row tuples, one list per column of a series."""
    for cols in series:
        stamps = [fmt(t) for t in cols.times]
        loc = cols.location_id
        for metric, column in cols.values.items():
            yield [(loc, metric, stamp, value)
                   for stamp, value in zip(stamps, column, strict=True) if value is not None]


def _write_rows(conn: Connection, parts: Iterable[list[Row]]) -> int:
    backend = conn.dialect.name
    if backend in ("mysql", "mariadb"):
        return _send_mysql(conn, ([_mysql_literal(row) for row in part] for part in parts))
    if backend == "sqlite":
        return _write_sqlite(conn, parts)
    return _write_generic(conn, parts)


def _chunks(parts: Iterable[list[Row]]) -> Iterator[list[Row]]:
    """Rows in lists of about CHUNK_ROWS, each checked to hold only finite values."""
    chunk: list[Row] = []
    for part in parts:
        chunk += part
        if len(chunk) >= CHUNK_ROWS:
            yield _finite(chunk)
            chunk = []
    if chunk:
        yield _finite(chunk)


def _finite(chunk: list[Row]) -> list[Row]:
    if not all(map(math.isfinite, [row[3] for row in chunk])):
        loc, metric, stamp, value = next(r for r in chunk if not math.isfinite(r[3]))
        raise ValueError(f"not a finite value for {metric} of {loc} at {stamp}: {value!r}")
    return chunk


_MYSQL_UPSERT = (
    "INSERT INTO metrics (location_id, metric_type, timestamp, value) VALUES {} "
    "ON DUPLICATE KEY UPDATE value = VALUES(value)"
)


def _mysql_literal(row: Row) -> str:
    loc, metric, stamp, value = row
    _check_metric(metric)
    if not math.isfinite(value):
        raise ValueError(f"not a finite value for {metric} at {stamp}: {value!r}")
    return f"({loc:d},'{metric}','{stamp}',{float(value)!r})"


def _send_mysql(conn: Connection, literals: Iterable[list[str]]) -> int:
    """Multi-row upserts of ~CHUNK_ROWS row literals each.

    The server's time dominates: while it executes one statement, this thread builds the next
    one (the driver releases the GIL while it waits on the socket). One statement at a time on
    the connection, all in the caller's transaction.
    """
    written = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="metrics-writer") as sender:
        running: Future[Any] | None = None
        chunk: list[str] = []
        for part in literals:
            chunk += part
            if len(chunk) < CHUNK_ROWS:
                continue
            statement = _MYSQL_UPSERT.format(",".join(chunk))
            written += len(chunk)
            chunk = []
            if running is not None:
                running.result()
            running = sender.submit(conn.exec_driver_sql, statement)
        if running is not None:
            running.result()
        if chunk:
            conn.exec_driver_sql(_MYSQL_UPSERT.format(",".join(chunk)))
            written += len(chunk)
    return written


_SQLITE_UPSERT = (
    "INSERT INTO metrics (location_id, metric_type, timestamp, value) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (location_id, metric_type, timestamp) DO UPDATE SET value = excluded.value"
)


def _write_sqlite(conn: Connection, parts: Iterable[list[Row]]) -> int:
    written = 0
    for chunk in _chunks(parts):
        conn.exec_driver_sql(_SQLITE_UPSERT, chunk)
        written += len(chunk)
    return written


def _write_generic(conn: Connection, parts: Iterable[list[Row]]) -> int:
    written = 0
    for chunk in _chunks(parts):
        # One statement may not touch a key twice on PostgreSQL: the last reading wins.
        unique = {(r[0], r[1], r[2]): r for r in chunk}
        upsert_rows(
            conn, metrics,
            [{"location_id": loc, "metric_type": m, "timestamp": datetime.fromisoformat(ts),
              "value": v} for loc, m, ts, v in unique.values()],
            key=SAMPLE_KEY, update=("value",),
        )
        written += len(chunk)
    return written


@cache
def _check_metric(metric: str) -> None:
    if not _METRIC_NAME.match(metric):
        raise ValueError(f"not a metric name: {metric!r}")


_Formatter = Callable[[datetime], str]


# Timestamp literals as each backend stores DATETIME (SQLite: SQLAlchemy's text format). Cached:
# every entry of a fetch carries the same hours, so most timestamps repeat across series.
@lru_cache(maxsize=65_536)
def _mysql_time(t: datetime) -> str:
    _check_naive(t)
    return t.isoformat(" ")  # microseconds only when not zero


@lru_cache(maxsize=65_536)
def _sqlite_time(t: datetime) -> str:
    _check_naive(t)
    return t.isoformat(" ", "microseconds")


def _check_naive(t: datetime) -> None:
    if t.tzinfo is not None:
        raise ValueError(f"timestamps are naive UTC, got {t.isoformat()}")


def _time_format(conn: Connection) -> _Formatter:
    return _sqlite_time if conn.dialect.name == "sqlite" else _mysql_time


def newest_sample_times(
    conn: Connection, *, metric_type: str | None = None
) -> dict[int, datetime]:
    """location_id -> timestamp of its newest stored sample (of one metric, if given);
    locations without data are absent."""
    query = sa.select(metrics.c.location_id, sa.func.max(metrics.c.timestamp)).group_by(
        metrics.c.location_id
    )
    if metric_type is not None:
        query = query.where(metrics.c.metric_type == metric_type)
    return {int(loc): ts for loc, ts in conn.execute(query)}


def count_samples(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(metrics)).scalar_one())
