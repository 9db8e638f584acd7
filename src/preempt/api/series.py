"""The query behind GET /metrics: a location's samples of some metrics over a time range.

`metric_type IN (...)` with a timestamp range lets the key (location_id, metric_type, timestamp)
serve all three columns (on MySQL/MariaDB it is the clustered primary key). Two forms:

* read_series_json: on MySQL/MariaDB the server writes each metric's points as JSON text
  (GROUP_CONCAT), so a 24-hour chart is 5 rows on the wire instead of 1,440 that a pure-Python
  driver parses one field at a time (that parsing was most of the request's time). Other
  backends, and a series too long for one GROUP_CONCAT value, take the row form.
* read_series: rows with timestamps read as text and reshaped to ISO 8601 (parsing 1,440
  datetimes per request and formatting them again was most of the time of the row form).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from preempt.storage.tables import locations, metrics

# metric -> (ISO 8601 UTC timestamps 'YYYY-MM-DDTHH:MM:SS+00:00', values)
SeriesRows = dict[str, tuple[list[str], list[float]]]

# Longest JSON text of one metric's series the server may build (GROUP_CONCAT truncates at
# group_concat_max_len, which defaults to 1 MB on MariaDB and 1 KB on MySQL). The result row is
# also bounded by max_allowed_packet; a longer series is read as rows instead.
MAX_SERIES_JSON_BYTES: Final = 64 * 2**20


@dataclass(frozen=True, slots=True)
class SeriesJson:
    """One metric's points as a JSON array, oldest first."""

    count: int
    data: bytes  # b'[{"timestamp":"2026-01-31T12:00:00+00:00","value":1.5},...]'


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
    ).all():
        times, values = out[metric]
        # 'YYYY-MM-DD HH:MM:SS[.ffffff]' (MySQL/MariaDB and SQLite alike) -> ISO 8601 UTC
        times.append(f"{raw[:10]}T{raw[11:19]}+00:00")
        values.append(value)
    return out


# One row per metric: (metric_type, point count, the points as comma-separated JSON objects).
# The DATETIME column (whole seconds) as text is 'YYYY-MM-DD HH:MM:SS': INSERT puts the 'T' in,
# giving iso_utc's form for ~15 % less server CPU per 24-hour read than DATE_FORMAT.
# A DOUBLE turned into text is the shortest form that reads back as the same double ('23.67',
# '1e-7' comes out as '0.0000001'), valid JSON. The ORDER BY is a sort (~17 % of the query's
# CPU), but without it the order within a group is unspecified, so it stays.
_SERIES_JSON_SQL: Final = (
    "SELECT {hint}m.metric_type, COUNT(*), GROUP_CONCAT(CONCAT("
    "'{{\"timestamp\":\"', INSERT(m.timestamp, 11, 1, 'T'), "
    "'+00:00\",\"value\":', m.value, '}}') ORDER BY m.timestamp SEPARATOR ',') "
    "FROM metrics m {join}"
    "WHERE {where} AND m.metric_type IN ({metrics}) "
    "AND m.timestamp >= %s AND m.timestamp < %s GROUP BY m.metric_type"
)


def series_json_statement(
    dialect: Dialect,
    location: int | str,
    metric_types: Sequence[str],
    since: datetime,
    until: datetime,
    *,
    max_text_bytes: int = MAX_SERIES_JSON_BYTES,
) -> tuple[str, tuple[Any, ...]]:
    """(SQL, parameters) of the MySQL/MariaDB JSON form, in the driver's `%s` style."""
    limit = int(max_text_bytes)
    # Per statement, so pooled connections keep their session settings.
    prefix, hint = "", ""
    if getattr(dialect, "is_mariadb", False):
        prefix = f"SET STATEMENT group_concat_max_len = {limit} FOR "
    else:
        hint = f"/*+ SET_VAR(group_concat_max_len = {limit}) */ "
    by_name = isinstance(location, str)
    sql = prefix + _SERIES_JSON_SQL.format(
        hint=hint,
        join="JOIN locations l ON l.id = m.location_id " if by_name else "",
        where="l.name = %s" if by_name else "m.location_id = %s",
        metrics=", ".join(["%s"] * len(metric_types)),
    )
    return sql, (location, *metric_types, _naive(since), _naive(until))


def _driver_rows(conn: Connection, sql: str, params: tuple[Any, ...]) -> tuple[list[Any], int]:
    """The rows of one statement and the server's warning count, through the driver's cursor.

    SQLAlchemy's execute path (execution context, result object) costs ~0.1 ms more CPU per
    call. Errors still come out as SQLAlchemy's (the API maps OperationalError to 503), and a
    connection the server dropped is invalidated, not pooled again.
    """
    dbapi: Any = conn.dialect.loaded_dbapi
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, params)
        rows, warnings = list(cursor.fetchall()), int(cursor.warning_count)
        cursor.close()
        return rows, warnings
    except dbapi.Error as exc:
        # closing a cursor on a dead connection raises too (mysqlclient): the first error counts
        with contextlib.suppress(dbapi.Error):
            cursor.close()
        dropped = conn.dialect.is_disconnect(exc, conn.connection, cursor)
        if dropped:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(sql, params, exc, dbapi.Error, dialect=conn.dialect,
                                         connection_invalidated=dropped) from exc


def _series_json_mysql(
    conn: Connection,
    location: int | str,
    metric_types: Sequence[str],
    since: datetime,
    until: datetime,
    max_text_bytes: int,
) -> dict[str, SeriesJson] | None:
    """None when a series did not fit in one GROUP_CONCAT value."""
    sql, params = series_json_statement(conn.dialect, location, metric_types, since, until,
                                        max_text_bytes=max_text_bytes)
    rows, warnings = _driver_rows(conn, sql, params)
    # GROUP_CONCAT warns when it cuts a value short, at group_concat_max_len or at
    # max_allowed_packet, whichever is lower: a check that costs nothing, where counting the
    # objects in the text took ~40 us per request. Any warning sends the read to the row form.
    if warnings or any(text is None for _, _, text in rows):
        return None
    return {metric: SeriesJson(int(count), f"[{text}]".encode()) for metric, count, text in rows}


def _rows_to_json(times: list[str], values: list[float]) -> SeriesJson:
    data = orjson.dumps([{"timestamp": t, "value": v} for t, v in zip(times, values, strict=True)])
    return SeriesJson(len(times), data)


_EMPTY: Final = SeriesJson(0, b"[]")
_PERCENT_STYLES: Final = ("format", "pyformat")


def read_series_json(
    conn: Connection,
    location: int | str,
    metric_types: Sequence[str],
    *,
    since: datetime,
    until: datetime,
    max_text_bytes: int = MAX_SERIES_JSON_BYTES,
) -> dict[str, SeriesJson]:
    """metric -> its points in [since, until) as JSON, every metric present, in the order of
    `metric_types`; one query (two when a series is longer than `max_text_bytes`)."""
    # The statement goes to the driver as written, in the `%s` style of PyMySQL and mysqlclient.
    if conn.dialect.name in ("mysql", "mariadb") and conn.dialect.paramstyle in _PERCENT_STYLES:
        found = _series_json_mysql(conn, location, metric_types, since, until, max_text_bytes)
        if found is not None:
            return {m: found.get(m, _EMPTY) for m in metric_types}
    rows = read_series(conn, location, metric_types, since=since, until=until)
    return {m: _rows_to_json(times, values) for m, (times, values) in rows.items()}
