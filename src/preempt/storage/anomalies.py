"""Anomalies: the detect service's idempotent bulk writer, and the reads and feedback of the API.

One row per (location, metric, timestamp). A rescan refreshes the detection fields of a known
anomaly but never its status or a user's feedback, and never adds a second row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from preempt.domain import Anomaly
from preempt.storage.tables import anomalies, locations
from preempt.storage.upsert import upsert_rows

ANOMALY_KEY: Final = ("location_id", "metric_type", "timestamp")
# What a rescan may refresh; status, feedback_* and detected_at belong to the first detection
# and to the user.
DETECTION_FIELDS: Final = (
    "value", "z_score", "severity", "score", "methods", "expected", "lower", "upper",
    "explanation",
)
SEVERITIES: Final = ("low", "medium", "high")
Verdict = Literal["false_positive", "confirmed", "new"]


@dataclass(frozen=True, slots=True)
class AnomalyRecord:
    """A stored anomaly with its id, location name, status and feedback."""

    id: int
    location_id: int
    location: str
    metric_type: str
    timestamp: datetime  # aware UTC
    value: float
    score: float
    severity: str
    methods: tuple[str, ...]
    explanation: str
    z_score: float | None
    expected: float | None
    lower: float | None
    upper: float | None
    status: str
    detected_at: datetime
    updated_at: datetime
    feedback_by: str | None
    feedback_at: datetime | None
    feedback_note: str | None


@dataclass(frozen=True, slots=True)
class AnomalyFilter:
    """Optional filters of an anomaly listing; empty tuples mean 'any'."""

    metric_types: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    method: str | None = None
    since: datetime | None = None  # naive UTC, inclusive
    until: datetime | None = None  # naive UTC, exclusive


@dataclass(frozen=True, slots=True)
class LocationCounts:
    """Anomaly counts of one location over a window (the map's dot)."""

    location_id: int
    name: str
    latitude: float
    longitude: float
    counts: dict[str, int] = field(default_factory=dict)  # severity -> count
    latest_at: datetime | None = None


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


def _aware_or_none(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None else None


def upsert_anomalies(
    conn: Connection, found: Sequence[Anomaly], *, now: datetime | None = None
) -> int:
    """Write anomalies idempotently; returns how many were new.

    Known ones (same location, metric, timestamp) get their detection fields refreshed; their
    status, feedback and detected_at are kept. The caller owns the transaction.
    """
    if not found:
        return 0
    stamp = _naive(now or datetime.now(UTC))
    rows: dict[tuple[int, str, datetime], dict[str, Any]] = {}
    for a in found:
        ts = _naive(a.timestamp)
        rows[(a.location_id, a.metric_type, ts)] = {
            "location_id": a.location_id, "metric_type": a.metric_type, "timestamp": ts,
            "value": a.value, "z_score": a.z_score, "severity": a.severity, "score": a.score,
            "methods": ",".join(a.methods)[:64], "expected": a.expected, "lower": a.lower,
            "upper": a.upper, "explanation": a.explanation, "status": "new",
            "detected_at": stamp, "updated_at": stamp,
        }
    existing = _existing_keys(conn, list(rows))
    upsert_rows(conn, anomalies, list(rows.values()), key=ANOMALY_KEY, update=DETECTION_FIELDS)
    return len(rows) - len(existing)


def _existing_keys(
    conn: Connection, keys: Sequence[tuple[int, str, datetime]]
) -> set[tuple[int, str, datetime]]:
    """Which keys are already stored: one range query over the (location_id, timestamp) index."""
    location_ids = sorted({k[0] for k in keys})
    first = min(k[2] for k in keys)
    last = max(k[2] for k in keys)
    wanted = set(keys)
    found: set[tuple[int, str, datetime]] = set()
    c = anomalies.c
    for start in range(0, len(location_ids), 1000):
        query = sa.select(c.location_id, c.metric_type, c.timestamp).where(
            c.location_id.in_(location_ids[start : start + 1000]),
            c.timestamp >= first, c.timestamp <= last,
        )
        for loc, metric, ts in conn.execute(query):
            key = (int(loc), str(metric), ts)
            if key in wanted:
                found.add(key)
    return found


def _columns() -> list[Any]:
    return [*anomalies.c, locations.c.name.label("location")]


def _record(row: Row[Any]) -> AnomalyRecord:
    m = row._mapping
    return AnomalyRecord(
        id=int(m["id"]), location_id=int(m["location_id"]), location=str(m["location"]),
        metric_type=str(m["metric_type"]), timestamp=_aware(m["timestamp"]),
        value=float(m["value"]), score=float(m["score"]), severity=str(m["severity"]),
        methods=tuple(x for x in str(m["methods"]).split(",") if x),
        explanation=str(m["explanation"]), z_score=m["z_score"], expected=m["expected"],
        lower=m["lower"], upper=m["upper"], status=str(m["status"]),
        detected_at=_aware(m["detected_at"]), updated_at=_aware(m["updated_at"]),
        feedback_by=m["feedback_by"], feedback_at=_aware_or_none(m["feedback_at"]),
        feedback_note=m["feedback_note"],
    )


def list_anomalies(
    conn: Connection,
    location: int | str,
    *,
    limit: int,
    filters: AnomalyFilter = AnomalyFilter(),
    before: tuple[datetime, int] | None = None,
) -> list[AnomalyRecord]:
    """Newest first (timestamp, id); `before` is the (timestamp, id) cursor of the last page.

    `location` is an id or a name (one query either way: the name is matched in the join).
    """
    c = anomalies.c
    query = _filtered(_listing(by_name=isinstance(location, str)), filters)
    if before is not None:
        ts, last_id = _naive(before[0]), before[1]
        query = query.where(sa.or_(c.timestamp < ts, sa.and_(c.timestamp == ts, c.id < last_id)))
    return [_record(r) for r in conn.execute(query, {"location": location, "limit": limit})]


@cache
def _listing(*, by_name: bool) -> sa.Select[Any]:
    """A location's anomalies with the location and the page size as bound parameters: built
    once (building this 20-column join per call cost a fifth of running it)."""
    c = anomalies.c
    where = locations.c.name if by_name else c.location_id
    return (
        sa.select(*_columns())
        .join(locations, locations.c.id == c.location_id)
        .where(where == sa.bindparam("location"))
        .order_by(c.timestamp.desc(), c.id.desc())
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )


def _filtered(query: sa.Select[Any], f: AnomalyFilter) -> sa.Select[Any]:
    c = anomalies.c
    if f.metric_types:
        query = query.where(c.metric_type.in_(f.metric_types))
    if f.severities:
        query = query.where(c.severity.in_(f.severities))
    if f.statuses:
        query = query.where(c.status.in_(f.statuses))
    if f.method:
        padded = sa.literal(",") + c.methods + sa.literal(",")
        query = query.where(padded.contains(f",{f.method},", autoescape=True))
    if f.since is not None:
        query = query.where(c.timestamp >= _naive(f.since))
    if f.until is not None:
        query = query.where(c.timestamp < _naive(f.until))
    return query


def get_anomaly(conn: Connection, anomaly_id: int) -> AnomalyRecord | None:
    row = conn.execute(
        sa.select(*_columns())
        .join(locations, locations.c.id == anomalies.c.location_id)
        .where(anomalies.c.id == anomaly_id)
    ).first()
    return _record(row) if row else None


def set_anomaly_feedback(
    conn: Connection,
    anomaly_id: int,
    *,
    verdict: Verdict,
    by: str,
    note: str | None = None,
    now: datetime | None = None,
) -> AnomalyRecord | None:
    """Record a user's verdict (or reset it with 'new'); None when the id does not exist."""
    stamp = _naive(now or datetime.now(UTC))
    reset = verdict == "new"
    conn.execute(
        anomalies.update().where(anomalies.c.id == anomaly_id).values(
            status=verdict, updated_at=stamp,
            feedback_by=None if reset else by, feedback_at=None if reset else stamp,
            feedback_note=None if reset else note,
        )
    )
    return get_anomaly(conn, anomaly_id)


def anomalies_after(conn: Connection, *, after_id: int, limit: int = 500) -> list[AnomalyRecord]:
    """Anomalies with id > after_id, oldest first: the feed of new detections."""
    c = anomalies.c
    query = (
        sa.select(*_columns()).join(locations, locations.c.id == c.location_id)
        .where(c.id > after_id).order_by(c.id).limit(limit)
    )
    return [_record(r) for r in conn.execute(query)]


def anomalies_changed(
    conn: Connection, *, since: datetime, max_id: int, limit: int = 500
) -> list[AnomalyRecord]:
    """Known anomalies (id <= max_id) whose status/feedback changed at or after `since`.

    Rescans do not touch updated_at, so this is the feed of users' verdicts.
    """
    c = anomalies.c
    query = (
        sa.select(*_columns()).join(locations, locations.c.id == c.location_id)
        .where(c.updated_at >= _naive(since), c.id <= max_id)
        .order_by(c.updated_at, c.id).limit(limit)
    )
    return [_record(r) for r in conn.execute(query)]


def max_anomaly_id(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(anomalies.c.id), 0)))
               .scalar_one())


def anomaly_overview(
    conn: Connection, *, since: datetime, until: datetime | None = None
) -> list[LocationCounts]:
    """Every location with its anomaly counts by severity in [since, until): one query."""
    c = anomalies.c
    window = [c.timestamp >= _naive(since)]
    if until is not None:
        window.append(c.timestamp < _naive(until))
    per_severity = [
        sa.func.sum(sa.case((c.severity == sev, 1), else_=0)).label(sev) for sev in SEVERITIES
    ]
    counts = (
        sa.select(c.location_id, *per_severity, sa.func.max(c.timestamp).label("latest_at"))
        .where(*window).group_by(c.location_id).subquery()
    )
    loc = locations.c
    query = (
        sa.select(loc.id, loc.name, loc.latitude, loc.longitude,
                  *[counts.c[sev] for sev in SEVERITIES], counts.c.latest_at)
        .outerjoin(counts, counts.c.location_id == loc.id)
        .order_by(loc.id)
    )
    out = []
    for row in conn.execute(query):
        m = row._mapping
        out.append(LocationCounts(
            location_id=int(m["id"]), name=str(m["name"]), latitude=float(m["latitude"]),
            longitude=float(m["longitude"]),
            counts={sev: int(m[sev] or 0) for sev in SEVERITIES},
            latest_at=_aware_or_none(m["latest_at"]),
        ))
    return out
