"""Detect's reads and bookkeeping: series of a batch of locations in one query, the per-series
watermark (what was judged, by which model), feedback and stored anomalies, cycles and jobs.

Arrays leave this module, rows do not: a batch comes back as (S, n) numpy arrays, NaN-padded.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from preempt.storage.tables import (
    anomalies,
    detect_cycle_jobs,
    detect_cycles,
    detect_state,
    locations,
    metrics,
)
from preempt.storage.upsert import upsert_rows

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_METRIC_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_IN_CHUNK = 1000


def epoch_s(moment: datetime) -> float:
    """Naive-UTC (or aware) datetime -> epoch seconds."""
    if moment.tzinfo is not None:
        return moment.timestamp()
    return calendar.timegm(moment.timetuple()) + moment.microsecond / 1e6


def naive_utc(seconds: float) -> datetime:
    """Epoch seconds -> naive UTC datetime (the storage convention)."""
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


# --- series ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeriesBatch:
    """Series of a batch of locations: row i is (location_ids[i], metric_types[i]); times_s and
    values are (S, n), ascending per row, NaN-padded at the end of shorter rows."""

    location_ids: IntArray
    metric_types: tuple[str, ...]
    times_s: FloatArray
    values: FloatArray

    def __len__(self) -> int:
        return int(self.location_ids.shape[0])

    @property
    def samples(self) -> int:
        return int(np.isfinite(self.times_s).sum())

    def keys(self) -> list[str]:
        """"location_id/metric_type" per row (the ML model and feedback key)."""
        return [f"{loc}/{m}" for loc, m in zip(self.location_ids.tolist(), self.metric_types,
                                                  strict=True)]


def load_series(
    conn: Connection,
    location_ids: Sequence[int],
    metric_types: Sequence[str],
    *,
    since: datetime,
) -> SeriesBatch:
    """Every sample since `since` of these locations and metrics: one query (per 1000 ids)."""
    for m in metric_types:
        if not _METRIC_NAME.match(m):
            raise ValueError(f"not a metric name: {m!r}")
    ids = sorted({int(i) for i in location_ids})
    parts: list[npt.NDArray[np.float64]] = []
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        if conn.dialect.name in ("mysql", "mariadb"):
            parts.append(_fetch_mysql(conn, chunk, metric_types, since))
        else:
            parts.append(_fetch_generic(conn, chunk, metric_types, since))
    rows = np.concatenate(parts) if parts else np.zeros((0, 4))
    return _to_batch(rows, tuple(metric_types))


def _fetch_mysql(
    conn: Connection, ids: Sequence[int], metric_types: Sequence[str], since: datetime
) -> npt.NDArray[np.float64]:
    # Literal SQL from values whose types we control (ints, checked metric names, a formatted
    # time); the metric comes back as its index and the time as epoch seconds. With a C driver
    # (mysqlclient) plain rows are fastest; PyMySQL parses rows in Python (~15 us each, a
    # minute for 10,000 locations), so there the server sends one row per series with its
    # times and values as comma-separated lists that numpy parses in C.
    names = ",".join(f"'{m}'" for m in metric_types)
    where = (
        f"FROM metrics WHERE location_id IN ({','.join(str(int(i)) for i in ids)}) "
        f"AND metric_type IN ({names}) "
        f"AND timestamp >= '{since.strftime('%Y-%m-%d %H:%M:%S')}' "
    )
    epoch = "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', timestamp)"
    lists = conn.dialect.driver == "pymysql"
    if lists:
        sql = (f"SELECT location_id, FIELD(metric_type, {names}) - 1, COUNT(*), "
               f"GROUP_CONCAT({epoch} ORDER BY timestamp SEPARATOR ','), "
               f"GROUP_CONCAT(value ORDER BY timestamp SEPARATOR ',') {where}"
               f"GROUP BY location_id, metric_type ORDER BY location_id, metric_type")
    else:
        sql = (f"SELECT location_id, FIELD(metric_type, {names}) - 1, {epoch}, value {where}"
               f"ORDER BY location_id, metric_type, timestamp")
    # The driver's own cursor: plain tuples, no Row objects.
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if lists:
            cursor.execute(f"SET SESSION group_concat_max_len = {_GROUP_CONCAT_MAX}")
        cursor.execute(sql)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return np.zeros((0, 4))
    if not lists:
        return np.array(rows, dtype=np.float64)
    counts = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
    total = int(counts.sum())
    out = np.empty((total, 4))
    out[:, 0] = np.repeat([float(r[0]) for r in rows], counts)
    out[:, 1] = np.repeat([float(r[1]) for r in rows], counts)
    out[:, 2] = _parse_list(",".join(_text(r[3]) for r in rows), total)
    out[:, 3] = _parse_list(",".join(_text(r[4]) for r in rows), total)
    return out


_GROUP_CONCAT_MAX = 64 * 1024 * 1024


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _parse_list(text: str, expected: int) -> npt.NDArray[np.float64]:
    parsed = np.fromstring(text, dtype=np.float64, sep=",") if expected else np.zeros(0)
    if parsed.size != expected:
        raise ValueError(f"series list parsed to {parsed.size} numbers, expected {expected}")
    return parsed


def _fetch_generic(
    conn: Connection, ids: Sequence[int], metric_types: Sequence[str], since: datetime
) -> npt.NDArray[np.float64]:
    index = {m: i for i, m in enumerate(metric_types)}
    c = metrics.c
    query = (
        sa.select(c.location_id, c.metric_type, c.timestamp, c.value)
        .where(c.location_id.in_(ids), c.metric_type.in_(list(metric_types)),
               c.timestamp >= since)
        .order_by(c.location_id, c.metric_type, c.timestamp)
    )
    out = [(loc, index[m], epoch_s(ts), v) for loc, m, ts, v in conn.execute(query)]
    return np.array(out, dtype=np.float64) if out else np.zeros((0, 4))


def _to_batch(rows: npt.NDArray[np.float64], metric_types: tuple[str, ...]) -> SeriesBatch:
    if rows.shape[0] == 0:
        return SeriesBatch(np.zeros(0, dtype=np.int64), (), np.zeros((0, 0)), np.zeros((0, 0)))
    loc = rows[:, 0].astype(np.int64)
    midx = rows[:, 1].astype(np.int64)
    key = loc * (len(metric_types) + 1) + midx
    starts = np.concatenate([[0], np.flatnonzero(np.diff(key)) + 1])
    counts = np.diff(np.append(starts, len(key)))
    n_rows, width = len(starts), int(counts.max())
    row = np.repeat(np.arange(n_rows), counts)
    col = np.arange(len(key)) - np.repeat(starts, counts)
    times = np.full((n_rows, width), np.nan)
    values = np.full((n_rows, width), np.nan)
    times[row, col] = rows[:, 2]
    values[row, col] = rows[:, 3]
    return SeriesBatch(
        location_ids=loc[starts],
        metric_types=tuple(metric_types[i] for i in midx[starts].tolist()),
        times_s=times,
        values=values,
    )


def location_names(conn: Connection, location_ids: Sequence[int]) -> dict[int, str]:
    ids = sorted(set(location_ids))
    out: dict[int, str] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        query = sa.select(locations.c.id, locations.c.name).where(
            locations.c.id.in_(ids[start : start + _IN_CHUNK])
        )
        out.update({int(i): str(n) for i, n in conn.execute(query)})
    return out


def all_location_ids(conn: Connection) -> list[int]:
    return [int(i) for (i,) in conn.execute(sa.select(locations.c.id).order_by(locations.c.id))]


# --- watermark ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeriesRecord:
    """Highest and lowest value of a series, over its samples from `since_s` on."""

    high: float
    low: float
    since_s: float


@dataclass(frozen=True, slots=True)
class SeriesState:
    """What detect has judged of one series: up to `judged_until_s`, with which model, where a
    retrained model should look again from (None: nothing to rescan), and the record of every
    sample up to the watermark: highest, lowest, since when (None: not kept yet)."""

    judged_until_s: float
    model_fitted_at_s: float | None
    rescan_from_s: float | None
    record: SeriesRecord | None = None


def load_state(
    conn: Connection, location_ids: Sequence[int]
) -> dict[tuple[int, str], SeriesState]:
    ids = sorted(set(location_ids))
    c = detect_state.c
    out: dict[tuple[int, str], SeriesState] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        query = sa.select(
            c.location_id, c.metric_type, c.judged_until, c.model_fitted_at_s, c.rescan_from,
            c.record_high, c.record_low, c.record_since,
        ).where(c.location_id.in_(ids[start : start + _IN_CHUNK]))
        for loc, metric, until, fitted, rescan, high, low, since in conn.execute(query):
            record = (None if high is None or low is None or since is None
                      else SeriesRecord(float(high), float(low), epoch_s(since)))
            out[(int(loc), str(metric))] = SeriesState(
                epoch_s(until), None if fitted is None else float(fitted),
                None if rescan is None else epoch_s(rescan), record,
            )
    return out


def stored_records_before(
    conn: Connection, keys: Sequence[tuple[int, str]], *, before: datetime
) -> dict[tuple[int, str], SeriesRecord]:
    """Highest, lowest and first sample time of each series' samples before `before` (one
    grouped query per chunk of locations; series without such samples are left out)."""
    wanted = set(keys)
    ids = sorted({loc for loc, _ in wanted})
    m = metrics.c
    out: dict[tuple[int, str], SeriesRecord] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        query = (
            sa.select(m.location_id, m.metric_type, sa.func.max(m.value), sa.func.min(m.value),
                      sa.func.min(m.timestamp))
            .where(m.location_id.in_(ids[start : start + _IN_CHUNK]), m.timestamp < before)
            .group_by(m.location_id, m.metric_type)
        )
        for loc, metric, high, low, first in conn.execute(query):
            key = (int(loc), str(metric))
            if key in wanted and high is not None:
                out[key] = SeriesRecord(float(high), float(low), epoch_s(first))
    return out


def write_state(
    conn: Connection,
    states: Mapping[tuple[int, str], SeriesState],
    *,
    cycle_id: str,
    now: datetime,
) -> None:
    """Upsert the watermark of every series given."""
    rows = [
        {"location_id": loc, "metric_type": metric,
         "judged_until": naive_utc(s.judged_until_s), "model_fitted_at_s": s.model_fitted_at_s,
         "rescan_from": None if s.rescan_from_s is None else naive_utc(s.rescan_from_s),
         "cycle_id": cycle_id, "updated_at": now,
         "record_high": None if s.record is None else s.record.high,
         "record_low": None if s.record is None else s.record.low,
         "record_since": None if s.record is None else naive_utc(s.record.since_s)}
        for (loc, metric), s in states.items()
    ]
    upsert_rows(conn, detect_state, rows, key=("location_id", "metric_type"),
                update=("judged_until", "model_fitted_at_s", "rescan_from", "cycle_id",
                        "updated_at", "record_high", "record_low", "record_since"))


# --- stored anomalies and feedback -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredAnomaly:
    location_id: int
    metric_type: str
    timestamp_s: float
    value: float
    expected: float | None
    status: str
    z_score: float | None = None


def stored_anomalies(
    conn: Connection, location_ids: Sequence[int], *, since: datetime
) -> list[StoredAnomaly]:
    """Anomalies of these locations since `since`, with their status (false_positive = feedback)."""
    ids = sorted(set(location_ids))
    c = anomalies.c
    out: list[StoredAnomaly] = []
    for start in range(0, len(ids), _IN_CHUNK):
        query = sa.select(c.location_id, c.metric_type, c.timestamp, c.value, c.expected,
                          c.status, c.z_score).where(
            c.location_id.in_(ids[start : start + _IN_CHUNK]), c.timestamp >= since)
        out.extend(
            StoredAnomaly(int(loc), str(m), epoch_s(ts), float(v),
                          None if e is None else float(e), str(s),
                          None if z is None else float(z))
            for loc, m, ts, v, e, s, z in conn.execute(query)
        )
    return out


# --- cycles and jobs -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobFigures:
    """What one job (a batch of locations) did; summed into the cycle's summary."""

    locations: int = 0
    series: int = 0
    samples: int = 0
    anomalies_found: int = 0
    anomalies_new: int = 0
    suggestions_new: int = 0
    suggestions_updated: int = 0
    ml: str = "none"
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CycleRecord:
    cycle_id: str
    planner: str
    jobs: int
    locations: int
    planned_at: datetime
    finished_at: datetime | None
    summary: str | None


def insert_cycle(
    conn: Connection, *, cycle_id: str, planner: str, jobs: int, locations_count: int,
    planned_at: datetime,
) -> None:
    conn.execute(detect_cycles.insert().values(
        cycle_id=cycle_id, planner=planner, jobs=jobs, locations=locations_count,
        planned_at=planned_at,
    ))


def _cycle(row: Any) -> CycleRecord:
    m = row._mapping
    return CycleRecord(str(m["cycle_id"]), str(m["planner"]), int(m["jobs"]),
                       int(m["locations"]), m["planned_at"], m["finished_at"], m["summary"])


def get_cycle(conn: Connection, cycle_id: str) -> CycleRecord | None:
    row = conn.execute(sa.select(detect_cycles).where(detect_cycles.c.cycle_id == cycle_id)).first()
    return _cycle(row) if row else None


def last_cycle(conn: Connection) -> CycleRecord | None:
    row = conn.execute(
        sa.select(detect_cycles).order_by(detect_cycles.c.planned_at.desc()).limit(1)
    ).first()
    return _cycle(row) if row else None


def unfinished_cycles(conn: Connection) -> list[CycleRecord]:
    rows = conn.execute(sa.select(detect_cycles).where(detect_cycles.c.finished_at.is_(None))
                        .order_by(detect_cycles.c.planned_at))
    return [_cycle(r) for r in rows]


def finish_cycle(conn: Connection, cycle_id: str, *, summary: str, now: datetime) -> None:
    conn.execute(detect_cycles.update().where(detect_cycles.c.cycle_id == cycle_id)
                 .values(finished_at=now, summary=summary))


def record_job(
    conn: Connection, *, cycle_id: str, job_no: int, worker: str, figures: JobFigures,
    now: datetime,
) -> int:
    """Insert the job's row, or count one more attempt (a redelivered job); returns attempts."""
    c = detect_cycle_jobs.c
    values = {
        "worker": worker, "locations": figures.locations, "series": figures.series,
        "samples": figures.samples, "anomalies_found": figures.anomalies_found,
        "anomalies_new": figures.anomalies_new, "suggestions_new": figures.suggestions_new,
        "suggestions_updated": figures.suggestions_updated, "ml": figures.ml,
        "duration_s": figures.duration_s, "finished_at": now,
    }
    where = (c.cycle_id == cycle_id) & (c.job_no == job_no)
    previous = conn.execute(sa.select(c.attempts).where(where)).scalar_one_or_none()
    if previous is None:
        conn.execute(detect_cycle_jobs.insert().values(cycle_id=cycle_id, job_no=job_no,
                                                       attempts=1, **values))
        return 1
    conn.execute(detect_cycle_jobs.update().where(where).values(attempts=previous + 1, **values))
    return int(previous) + 1


@dataclass(frozen=True, slots=True)
class JobRecord:
    job_no: int
    worker: str
    attempts: int
    figures: JobFigures


def cycle_jobs(conn: Connection, cycle_id: str) -> list[JobRecord]:
    c = detect_cycle_jobs.c
    rows = conn.execute(sa.select(detect_cycle_jobs).where(c.cycle_id == cycle_id)
                        .order_by(c.job_no))
    out = []
    for r in rows:
        m = r._mapping
        out.append(JobRecord(int(m["job_no"]), str(m["worker"]), int(m["attempts"]), JobFigures(
            locations=int(m["locations"]), series=int(m["series"]), samples=int(m["samples"]),
            anomalies_found=int(m["anomalies_found"]), anomalies_new=int(m["anomalies_new"]),
            suggestions_new=int(m["suggestions_new"]),
            suggestions_updated=int(m["suggestions_updated"]), ml=str(m["ml"]),
            duration_s=float(m["duration_s"]),
        )))
    return out


def jobs_done(conn: Connection, cycle_id: str) -> int:
    c = detect_cycle_jobs.c
    return int(conn.execute(sa.select(sa.func.count()).select_from(detect_cycle_jobs)
                            .where(c.cycle_id == cycle_id)).scalar_one())


def sum_figures(figures: Iterable[JobFigures]) -> JobFigures:
    """Totals of several jobs; ml is "on"/"off" when all agree, else "partial"."""
    items = list(figures)
    states = {f.ml for f in items} - {"none"}
    ml = "none" if not states else (states.pop() if len(states) == 1 else "partial")
    return JobFigures(
        locations=sum(f.locations for f in items), series=sum(f.series for f in items),
        samples=sum(f.samples for f in items),
        anomalies_found=sum(f.anomalies_found for f in items),
        anomalies_new=sum(f.anomalies_new for f in items),
        suggestions_new=sum(f.suggestions_new for f in items),
        suggestions_updated=sum(f.suggestions_updated for f in items),
        ml=ml, duration_s=max((f.duration_s for f in items), default=0.0),
    )
