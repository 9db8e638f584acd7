"""Alarm suggestions: the detect service's idempotent bulk writer, the API's reads and decisions.

One live suggestion per (location, metric, direction). An open one is updated in place; an
accepted one is left alone (it became an alarm); a dismissed one stays dismissed unless the
proposed threshold moves a lot, then it is re-opened with the new figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from preempt.domain import Suggestion
from preempt.storage.tables import alarm_suggestions, locations
from preempt.storage.upsert import upsert_rows

SUGGESTION_KEY: Final = ("location_id", "metric_type", "direction")
# The figures detect proposes; status and decision fields belong to the user.
PROPOSAL_FIELDS: Final = (
    "threshold", "operator", "confidence", "description", "anomaly_count", "caught", "missed",
    "false_fires", "fires_per_week", "percentile", "persistence_k", "persistence_n",
)
_UPDATED: Final = (*PROPOSAL_FIELDS, "status", "suggested_at", "updated_at")
# A dismissed suggestion comes back when its threshold moves by more than this fraction of
# max(|old threshold|, REPROPOSE_FLOOR) (the floor keeps thresholds near 0 from flapping).
REPROPOSE_MIN_CHANGE: Final = 0.2
REPROPOSE_FLOOR: Final = 5.0


@dataclass(frozen=True, slots=True)
class SuggestionRecord:
    """A stored suggestion with its id, location name, status and decision."""

    id: int
    location_id: int
    location: str
    metric_type: str
    direction: str
    operator: str
    threshold: float
    confidence: float
    description: str
    anomaly_count: int
    caught: int
    missed: int
    false_fires: int
    fires_per_week: float
    percentile: float | None
    persistence_k: int
    persistence_n: int
    status: str
    dismiss_reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    suggested_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SuggestionFilter:
    metric_types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    since: datetime | None = None  # on updated_at, naive UTC, inclusive
    until: datetime | None = None  # exclusive


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _proposal(s: Suggestion) -> dict[str, Any]:
    return {
        "threshold": s.threshold, "operator": s.operator, "confidence": s.confidence,
        "description": s.description, "anomaly_count": s.anomaly_count, "caught": s.caught,
        "missed": s.missed, "false_fires": s.false_fires, "fires_per_week": s.fires_per_week,
        "percentile": s.percentile, "persistence_k": s.persistence_k,
        "persistence_n": s.persistence_n,
    }


def is_big_change(old: float, new: float, *, min_change: float = REPROPOSE_MIN_CHANGE) -> bool:
    """True when a dismissed threshold `old` moved enough to `new` to be proposed again."""
    return abs(new - old) > min_change * max(abs(old), REPROPOSE_FLOOR)


def upsert_suggestions(
    conn: Connection,
    proposed: Sequence[Suggestion],
    *,
    now: datetime | None = None,
    min_change: float = REPROPOSE_MIN_CHANGE,
) -> tuple[int, int]:
    """Write suggestions idempotently; returns (new, updated).

    New (location, metric, direction): inserted open. Open: figures updated when they differ.
    Dismissed: re-opened with the new figures only when `is_big_change`. Accepted: untouched.
    Unchanged rows keep their updated_at, so a rerun of detect produces no change events.
    The caller owns the transaction.
    """
    if not proposed:
        return 0, 0
    stamp = _naive(now or datetime.now(UTC))
    latest = {(s.location_id, s.metric_type, s.direction): s for s in proposed}
    existing = _existing(conn, sorted({k[0] for k in latest}))
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for key, s in latest.items():
        values = _proposal(s)
        row = existing.get(key)
        if row is None:
            inserts.append({
                "location_id": s.location_id, "metric_type": s.metric_type,
                "direction": s.direction, **values, "status": "open",
                "suggested_at": stamp, "updated_at": stamp,
            })
        elif row["status"] == "open":
            if any(row[f] != values[f] for f in PROPOSAL_FIELDS):
                updates.append({"_id": row["id"], **values, "status": "open",
                                "suggested_at": row["suggested_at"], "updated_at": stamp})
        elif row["status"] == "dismissed" and is_big_change(
            float(row["threshold"]), s.threshold, min_change=min_change
        ):
            updates.append({"_id": row["id"], **values, "status": "open",
                            "suggested_at": stamp, "updated_at": stamp})
    if inserts:
        upsert_rows(conn, alarm_suggestions, inserts, key=SUGGESTION_KEY)
    if updates:
        stmt = (
            alarm_suggestions.update()
            .where(alarm_suggestions.c.id == sa.bindparam("_id"))
            .values({f: sa.bindparam(f"p_{f}") for f in _UPDATED})
            .values(dismiss_reason=None, decided_by=None, decided_at=None)
        )
        conn.execute(stmt, [
            {"_id": u["_id"], **{f"p_{f}": u[f] for f in _UPDATED}} for u in updates
        ])
    return len(inserts), len(updates)


def _existing(conn: Connection, location_ids: list[int]) -> dict[tuple[int, str, str], Any]:
    c = alarm_suggestions.c
    out: dict[tuple[int, str, str], Any] = {}
    for start in range(0, len(location_ids), 1000):
        rows = conn.execute(
            sa.select(c.id, c.location_id, c.metric_type, c.direction, c.status,
                      c.suggested_at, *[c[f] for f in PROPOSAL_FIELDS])
            .where(c.location_id.in_(location_ids[start : start + 1000]))
        )
        for r in rows:
            out[(int(r.location_id), str(r.metric_type), str(r.direction))] = r._mapping
    return out


def _record(row: Row[Any]) -> SuggestionRecord:
    m = row._mapping
    decided = m["decided_at"]
    return SuggestionRecord(
        id=int(m["id"]), location_id=int(m["location_id"]), location=str(m["location"]),
        metric_type=str(m["metric_type"]), direction=str(m["direction"]),
        operator=str(m["operator"]), threshold=float(m["threshold"]),
        confidence=float(m["confidence"]), description=str(m["description"]),
        anomaly_count=int(m["anomaly_count"]), caught=int(m["caught"]), missed=int(m["missed"]),
        false_fires=int(m["false_fires"]), fires_per_week=float(m["fires_per_week"]),
        percentile=m["percentile"], persistence_k=int(m["persistence_k"]),
        persistence_n=int(m["persistence_n"]), status=str(m["status"]),
        dismiss_reason=m["dismiss_reason"], decided_by=m["decided_by"],
        decided_at=decided.replace(tzinfo=UTC) if decided else None,
        suggested_at=m["suggested_at"].replace(tzinfo=UTC),
        updated_at=m["updated_at"].replace(tzinfo=UTC),
    )


def _select() -> sa.Select[Any]:
    return sa.select(*alarm_suggestions.c, locations.c.name.label("location")).join(
        locations, locations.c.id == alarm_suggestions.c.location_id
    )


def list_suggestions(
    conn: Connection,
    location: int | str,
    *,
    limit: int,
    filters: SuggestionFilter = SuggestionFilter(),
    before: tuple[datetime, int] | None = None,
) -> list[SuggestionRecord]:
    """Most recently changed first (updated_at, id); `before` is the cursor of the last page.

    `location` is an id or a name (matched in the join, so still one query).
    """
    c = alarm_suggestions.c
    query = (
        _select().where(locations.c.name == location if isinstance(location, str)
                        else c.location_id == location)
        .order_by(c.updated_at.desc(), c.id.desc()).limit(limit)
    )
    if filters.metric_types:
        query = query.where(c.metric_type.in_(filters.metric_types))
    if filters.statuses:
        query = query.where(c.status.in_(filters.statuses))
    if filters.since is not None:
        query = query.where(c.updated_at >= _naive(filters.since))
    if filters.until is not None:
        query = query.where(c.updated_at < _naive(filters.until))
    if before is not None:
        ts, last_id = _naive(before[0]), before[1]
        query = query.where(
            sa.or_(c.updated_at < ts, sa.and_(c.updated_at == ts, c.id < last_id))
        )
    return [_record(r) for r in conn.execute(query)]


def get_suggestion(conn: Connection, suggestion_id: int) -> SuggestionRecord | None:
    row = conn.execute(_select().where(alarm_suggestions.c.id == suggestion_id)).first()
    return _record(row) if row else None


def decide_suggestion(
    conn: Connection,
    suggestion_id: int,
    *,
    status: str,
    by: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> SuggestionRecord | None:
    """Set status accepted | dismissed | open with who and when; None when the id is unknown."""
    stamp = _naive(now or datetime.now(UTC))
    reopened = status == "open"
    conn.execute(
        alarm_suggestions.update().where(alarm_suggestions.c.id == suggestion_id).values(
            status=status, updated_at=stamp,
            dismiss_reason=reason if status == "dismissed" else None,
            decided_by=None if reopened else by, decided_at=None if reopened else stamp,
        )
    )
    return get_suggestion(conn, suggestion_id)


def suggestions_changed(
    conn: Connection, *, since: datetime, limit: int = 500
) -> list[SuggestionRecord]:
    """Suggestions created or changed at or after `since`, oldest change first (change feed)."""
    c = alarm_suggestions.c
    query = _select().where(c.updated_at >= _naive(since)).order_by(c.updated_at, c.id).limit(
        limit
    )
    return [_record(r) for r in conn.execute(query)]
