"""Alarm rows: rules (API), states and history (evaluator), the delivery outbox (worker),
silences and the evaluator's metrics.id watermark. Naive UTC in the database, aware UTC out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from preempt.alarms.model import AlarmRule, RuleState, Transition
from preempt.storage.tables import (
    alarm_cursor,
    alarm_deliveries,
    alarm_history,
    alarm_rules,
    alarm_silences,
    alarm_states,
    locations,
    metrics,
)
from preempt.storage.upsert import upsert_rows

CURSOR_NAME: Final = "metrics"
_IN_CHUNK: Final = 1000


def naive(moment: datetime) -> datetime:
    """Naive UTC (the storage convention) of an aware or naive-UTC datetime."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# --- rules ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """The user's side of a rule (create or replace)."""

    location_id: int
    metric_type: str
    operator: str
    threshold: float
    name: str
    hysteresis: float = 0.0
    for_s: int = 0
    severity: str = "medium"
    quiet_hours: str | None = None
    channels: tuple[str, ...] = ()
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class RuleRecord:
    """A stored rule with its location and current state."""

    id: int
    location_id: int
    location: str
    timezone: str
    metric_type: str
    operator: str
    threshold: float
    hysteresis: float
    for_s: int
    severity: str
    name: str
    quiet_hours: str | None
    channels: tuple[str, ...]
    enabled: bool
    suggestion_id: int | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    state: str = "ok"
    state_changed_at: datetime | None = None
    last_value: float | None = None
    last_sample_at: datetime | None = None

    def core(self) -> AlarmRule:
        """The evaluator's view of this rule."""
        return AlarmRule(
            id=self.id, location_id=self.location_id, metric_type=self.metric_type,
            operator=self.operator, threshold=self.threshold, hysteresis=self.hysteresis,
            for_s=float(self.for_s), severity=self.severity,
        )


def _rule_select() -> sa.Select[Any]:
    r, s = alarm_rules.c, alarm_states.c
    return (
        sa.select(*alarm_rules.c, locations.c.name.label("location"),
                  locations.c.timezone.label("timezone"), s.state, s.changed_at.label("s_changed"),
                  s.last_value, s.last_sample_at)
        .select_from(alarm_rules.join(locations, locations.c.id == r.location_id)
                     .outerjoin(alarm_states, s.rule_id == r.id))
    )


def _rule(row: Any) -> RuleRecord:
    m = row._mapping
    return RuleRecord(
        id=int(m["id"]), location_id=int(m["location_id"]), location=str(m["location"]),
        timezone=str(m["timezone"]), metric_type=str(m["metric_type"]),
        operator=str(m["operator"]), threshold=float(m["threshold"]),
        hysteresis=float(m["hysteresis"]), for_s=int(m["for_s"]), severity=str(m["severity"]),
        name=str(m["name"]), quiet_hours=m["quiet_hours"],
        channels=tuple(json.loads(m["channels"] or "[]")), enabled=bool(m["enabled"]),
        suggestion_id=m["suggestion_id"], created_by=str(m["created_by"]),
        created_at=m["created_at"].replace(tzinfo=UTC),
        updated_at=m["updated_at"].replace(tzinfo=UTC),
        state=str(m["state"] or "ok"), state_changed_at=aware(m["s_changed"]),
        last_value=m["last_value"], last_sample_at=aware(m["last_sample_at"]),
    )


def _spec_values(spec: RuleSpec) -> dict[str, Any]:
    return {
        "location_id": spec.location_id, "metric_type": spec.metric_type,
        "operator": spec.operator, "threshold": spec.threshold, "hysteresis": spec.hysteresis,
        "for_s": int(spec.for_s), "severity": spec.severity, "name": spec.name,
        "quiet_hours": spec.quiet_hours, "channels": json.dumps(list(spec.channels)),
        "enabled": spec.enabled,
    }


def create_rule(
    conn: Connection, spec: RuleSpec, *, created_by: str, suggestion_id: int | None = None,
    now: datetime | None = None,
) -> RuleRecord:
    stamp = naive(now or utcnow())
    result = conn.execute(alarm_rules.insert().values(
        **_spec_values(spec), suggestion_id=suggestion_id, created_by=created_by,
        created_at=stamp, updated_at=stamp,
    ))
    rule_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    found = get_rule(conn, rule_id)
    assert found is not None
    return found


def update_rule(
    conn: Connection, rule_id: int, spec: RuleSpec, *, now: datetime | None = None
) -> RuleRecord | None:
    """Replace a rule's fields. A changed location or metric restarts its state at ok."""
    before = get_rule(conn, rule_id)
    if before is None:
        return None
    conn.execute(alarm_rules.update().where(alarm_rules.c.id == rule_id).values(
        **_spec_values(spec), updated_at=naive(now or utcnow())))
    if (before.location_id, before.metric_type) != (spec.location_id, spec.metric_type):
        conn.execute(alarm_states.delete().where(alarm_states.c.rule_id == rule_id))
    return get_rule(conn, rule_id)


def delete_rule(conn: Connection, rule_id: int) -> bool:
    """Remove a rule and its state (its history stays); False when unknown."""
    gone = conn.execute(alarm_rules.delete().where(alarm_rules.c.id == rule_id)).rowcount
    conn.execute(alarm_states.delete().where(alarm_states.c.rule_id == rule_id))
    return bool(gone)


def get_rule(conn: Connection, rule_id: int) -> RuleRecord | None:
    row = conn.execute(_rule_select().where(alarm_rules.c.id == rule_id)).first()
    return _rule(row) if row else None


def get_rule_by_suggestion(conn: Connection, suggestion_id: int) -> RuleRecord | None:
    row = conn.execute(
        _rule_select().where(alarm_rules.c.suggestion_id == suggestion_id)
    ).first()
    return _rule(row) if row else None


def list_rules(
    conn: Connection,
    *,
    location_id: int | None = None,
    states: Sequence[str] = (),
    enabled_only: bool = False,
    limit: int | None = None,
    after_id: int = 0,
) -> list[RuleRecord]:
    """Rules by id; `states` filters on the current state (no state row = ok)."""
    query = _rule_select().where(alarm_rules.c.id > after_id).order_by(alarm_rules.c.id)
    if location_id is not None:
        query = query.where(alarm_rules.c.location_id == location_id)
    if enabled_only:
        query = query.where(alarm_rules.c.enabled.is_(True))
    if states:
        current = sa.func.coalesce(alarm_states.c.state, "ok")
        query = query.where(current.in_(list(states)))
    if limit is not None:
        query = query.limit(limit)
    return [_rule(r) for r in conn.execute(query)]


def rules_version(conn: Connection) -> tuple[int, int, str]:
    """(count, max id, newest updated_at) of all rules: changes when any rule changes."""
    c = alarm_rules.c
    count, top, newest = conn.execute(
        sa.select(sa.func.count(), sa.func.max(c.id), sa.func.max(c.updated_at))
    ).one()
    return int(count or 0), int(top or 0), str(newest)


# --- states and history -------------------------------------------------------------------------


def load_states(conn: Connection, rule_ids: Sequence[int] | None = None) -> dict[int, RuleState]:
    s = alarm_states.c
    query = sa.select(alarm_states)
    chunks: Iterable[Sequence[int] | None] = [None] if rule_ids is None else [
        rule_ids[i : i + _IN_CHUNK] for i in range(0, len(rule_ids), _IN_CHUNK)
    ]
    out: dict[int, RuleState] = {}
    for chunk in chunks:
        q = query if chunk is None else query.where(s.rule_id.in_(list(chunk)))
        for r in conn.execute(q):
            out[int(r.rule_id)] = RuleState(
                rule_id=int(r.rule_id), state=str(r.state), changed_at=r.changed_at,
                breach_since=r.breach_since, last_sample_at=r.last_sample_at,
                last_value=r.last_value,
            )
    return out


def save_states(conn: Connection, states: Iterable[RuleState], *, now: datetime) -> None:
    rows = [
        {"rule_id": s.rule_id, "state": s.state, "changed_at": s.changed_at,
         "breach_since": s.breach_since, "last_sample_at": s.last_sample_at,
         "last_value": s.last_value, "updated_at": naive(now)}
        for s in states
    ]
    upsert_rows(conn, alarm_states, rows, key=("rule_id",), update=(
        "state", "changed_at", "breach_since", "last_sample_at", "last_value", "updated_at"))


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    id: int
    rule_id: int
    location_id: int
    location: str | None
    metric_type: str
    from_state: str
    to_state: str
    at: datetime
    value: float
    threshold: float
    notify: str
    recorded_at: datetime


def record_transitions(
    conn: Connection,
    transitions: Sequence[tuple[Transition, int, str, str]],
    *,
    now: datetime,
) -> list[tuple[int, Transition]]:
    """Insert (transition, location_id, metric_type, notify) rows not recorded yet; returns
    (history id, transition) of the ones this call added (a rerun adds and returns nothing)."""
    if not transitions:
        return []
    rule_ids = sorted({t.rule_id for t, *_ in transitions})
    earliest = min(t.at for t, *_ in transitions)
    existing = _history_keys(conn, rule_ids, earliest)
    fresh = [x for x in transitions if (x[0].rule_id, x[0].to_state, x[0].at) not in existing]
    rows = [
        {"rule_id": t.rule_id, "location_id": loc, "metric_type": metric,
         "from_state": t.from_state, "to_state": t.to_state, "at": t.at, "value": t.value,
         "threshold": t.threshold, "notify": notify, "recorded_at": naive(now)}
        for t, loc, metric, notify in fresh
    ]
    upsert_rows(conn, alarm_history, rows, key=("rule_id", "to_state", "at"))
    ids = _history_keys(conn, rule_ids, earliest)
    return [(ids[(t.rule_id, t.to_state, t.at)], t) for t, *_ in fresh]


def _history_keys(
    conn: Connection, rule_ids: Sequence[int], since: datetime
) -> dict[tuple[int, str, datetime], int]:
    h = alarm_history.c
    out: dict[tuple[int, str, datetime], int] = {}
    for i in range(0, len(rule_ids), _IN_CHUNK):
        rows = conn.execute(sa.select(h.id, h.rule_id, h.to_state, h.at).where(
            h.rule_id.in_(list(rule_ids[i : i + _IN_CHUNK])), h.at >= since))
        for r in rows:
            out[(int(r.rule_id), str(r.to_state), r.at)] = int(r.id)
    return out


def list_history(
    conn: Connection,
    *,
    rule_id: int | None = None,
    location_id: int | None = None,
    limit: int = 100,
    before_id: int | None = None,
    after_id: int | None = None,
) -> list[HistoryRecord]:
    """Newest first; with `after_id`, the transitions after it, oldest first (a live feed)."""
    h = alarm_history.c
    query = (
        sa.select(alarm_history, locations.c.name.label("location"))
        .select_from(alarm_history.outerjoin(locations, locations.c.id == h.location_id))
        .order_by(h.id.desc() if after_id is None else h.id).limit(limit)
    )
    if rule_id is not None:
        query = query.where(h.rule_id == rule_id)
    if location_id is not None:
        query = query.where(h.location_id == location_id)
    if before_id is not None:
        query = query.where(h.id < before_id)
    if after_id is not None:
        query = query.where(h.id > after_id)
    return [_history(r) for r in conn.execute(query)]


def _history(r: Any) -> HistoryRecord:
    return HistoryRecord(
        id=int(r.id), rule_id=int(r.rule_id), location_id=int(r.location_id),
        location=r.location, metric_type=str(r.metric_type), from_state=str(r.from_state),
        to_state=str(r.to_state), at=r.at.replace(tzinfo=UTC), value=float(r.value),
        threshold=float(r.threshold), notify=str(r.notify),
        recorded_at=r.recorded_at.replace(tzinfo=UTC),
    )


def transitions_after(conn: Connection, *, after_id: int, limit: int = 500) -> list[HistoryRecord]:
    """Transitions with id > after_id, oldest first (for a live feed of alarm state changes)."""
    return list_history(conn, after_id=after_id, limit=limit)


# --- deliveries (the outbox) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: int
    history_id: int
    channel: str
    kind: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime
    rule_id: int | None = None
    to_state: str | None = None


def enqueue_deliveries(
    conn: Connection, rows: Sequence[tuple[int, str, str, datetime]], *, now: datetime
) -> None:
    """Queue (history_id, channel, kind, not_before) once each: a repeat is ignored."""
    stamp = naive(now)
    upsert_rows(conn, alarm_deliveries, [
        {"history_id": hid, "channel": channel, "kind": kind, "status": "pending",
         "attempts": 0, "next_attempt_at": naive(not_before), "created_at": stamp,
         "updated_at": stamp}
        for hid, channel, kind, not_before in rows
    ], key=("history_id", "channel"))


def requeue_stale(conn: Connection, *, now: datetime, timeout_s: float) -> int:
    """Put deliveries claimed by a worker that died (older than timeout_s) back to pending."""
    d = alarm_deliveries.c
    cutoff = naive(now) - timedelta(seconds=timeout_s)
    return int(conn.execute(alarm_deliveries.update().where(
        d.status == "sending", d.updated_at < cutoff
    ).values(status="pending", claimed_by=None)).rowcount)


def claim_due(
    conn: Connection, *, now: datetime, worker: str, limit: int = 100
) -> list[DeliveryRecord]:
    """Mark up to `limit` due pending deliveries as this worker's; another worker racing for the
    same rows gets none of them (the UPDATE only takes rows still pending)."""
    d = alarm_deliveries.c
    stamp = naive(now)
    ids = [int(i) for i in conn.execute(
        sa.select(d.id).where(d.status == "pending", d.next_attempt_at <= stamp)
        .order_by(d.id).limit(limit)).scalars()]
    if not ids:
        return []
    conn.execute(alarm_deliveries.update().where(d.id.in_(ids), d.status == "pending").values(
        status="sending", claimed_by=worker, updated_at=stamp))
    return _deliveries(conn, sa.and_(d.id.in_(ids), d.status == "sending",
                                     d.claimed_by == worker))


def _deliveries(conn: Connection, where: Any, limit: int | None = None) -> list[DeliveryRecord]:
    d, h = alarm_deliveries.c, alarm_history.c
    query = (
        sa.select(alarm_deliveries, h.rule_id, h.to_state)
        .select_from(alarm_deliveries.outerjoin(alarm_history, h.id == d.history_id))
        .where(where).order_by(d.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        DeliveryRecord(
            id=int(r.id), history_id=int(r.history_id), channel=str(r.channel),
            kind=str(r.kind), status=str(r.status), attempts=int(r.attempts),
            next_attempt_at=r.next_attempt_at.replace(tzinfo=UTC), last_error=r.last_error,
            sent_at=aware(r.sent_at), created_at=r.created_at.replace(tzinfo=UTC),
            updated_at=r.updated_at.replace(tzinfo=UTC), rule_id=r.rule_id, to_state=r.to_state,
        )
        for r in conn.execute(query)
    ]


def list_deliveries(
    conn: Connection, *, statuses: Sequence[str] = (), rule_id: int | None = None,
    history_id: int | None = None, limit: int = 100,
) -> list[DeliveryRecord]:
    """Newest first."""
    d, h = alarm_deliveries.c, alarm_history.c
    where: list[Any] = [sa.true()]
    if statuses:
        where.append(d.status.in_(list(statuses)))
    if rule_id is not None:
        where.append(h.rule_id == rule_id)
    if history_id is not None:
        where.append(d.history_id == history_id)
    return _deliveries(conn, sa.and_(*where), limit)


@dataclass(frozen=True, slots=True)
class EventContext:
    """What a notification needs from the database about one transition."""

    history: HistoryRecord
    rule: RuleRecord | None
    started_at: datetime | None


def event_contexts(conn: Connection, history_ids: Sequence[int]) -> dict[int, EventContext]:
    """For each transition: its record, its rule (None if deleted since) and, for a resolution,
    when the episode began firing. Three queries, whatever the number of transitions."""
    ids = sorted(set(history_ids))
    if not ids:
        return {}
    h = alarm_history.c
    records: list[HistoryRecord] = []
    for i in range(0, len(ids), _IN_CHUNK):
        records += [_history(r) for r in conn.execute(
            sa.select(alarm_history, locations.c.name.label("location"))
            .select_from(alarm_history.outerjoin(locations, locations.c.id == h.location_id))
            .where(h.id.in_(ids[i : i + _IN_CHUNK])))]
    rule_ids = sorted({r.rule_id for r in records})
    rules: dict[int, RuleRecord] = {}
    for i in range(0, len(rule_ids), _IN_CHUNK):
        for row in conn.execute(_rule_select().where(
                alarm_rules.c.id.in_(rule_ids[i : i + _IN_CHUNK]))):
            rule = _rule(row)
            rules[rule.id] = rule
    resolved = [r for r in records if r.to_state == "resolved"]
    starts: dict[int, list[tuple[int, datetime]]] = {}
    if resolved:
        firing_of = sorted({r.rule_id for r in resolved})
        for i in range(0, len(firing_of), _IN_CHUNK):
            for row in conn.execute(sa.select(h.id, h.rule_id, h.at).where(
                    h.rule_id.in_(firing_of[i : i + _IN_CHUNK]), h.to_state == "firing")):
                starts.setdefault(int(row.rule_id), []).append((int(row.id), row.at))
    out: dict[int, EventContext] = {}
    for r in records:
        began = None
        if r.to_state == "resolved":
            earlier = [at for hid, at in starts.get(r.rule_id, []) if hid < r.id]
            began = max(earlier).replace(tzinfo=UTC) if earlier else None
        out[r.id] = EventContext(history=r, rule=rules.get(r.rule_id), started_at=began)
    return out


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one delivery attempt, to record."""

    delivery_id: int
    status: str  # sent | pending (retry at next_attempt_at) | failed
    attempts: int
    at: datetime
    next_attempt_at: datetime
    error: str | None = None


def finish_deliveries(conn: Connection, outcomes: Sequence[Outcome]) -> None:
    """Record many attempts in one statement (executemany)."""
    if not outcomes:
        return
    d = alarm_deliveries.c
    stmt = alarm_deliveries.update().where(d.id == sa.bindparam("_id")).values(
        status=sa.bindparam("_status"), attempts=sa.bindparam("_attempts"),
        updated_at=sa.bindparam("_at"), last_error=sa.bindparam("_error"), claimed_by=None,
        sent_at=sa.bindparam("_sent_at"), next_attempt_at=sa.bindparam("_next"))
    conn.execute(stmt, [
        {"_id": o.delivery_id, "_status": o.status, "_attempts": o.attempts,
         "_at": naive(o.at), "_error": o.error,
         "_sent_at": naive(o.at) if o.status == "sent" else None,
         "_next": naive(o.next_attempt_at)}
        for o in outcomes
    ])


# --- silences ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SilenceRecord:
    id: int
    rule_id: int | None
    location_id: int | None
    location: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime

    def covers(self, *, rule_id: int, location_id: int, at: datetime) -> bool:
        """True when this silence applies to the rule (or its location) at `at` (aware)."""
        matches = self.rule_id == rule_id or (
            self.rule_id is None and self.location_id == location_id)
        return matches and self.starts_at <= at < self.ends_at


def create_silence(
    conn: Connection, *, rule_id: int | None, location_id: int | None, starts_at: datetime,
    ends_at: datetime, reason: str, created_by: str, now: datetime | None = None,
) -> SilenceRecord:
    result = conn.execute(alarm_silences.insert().values(
        rule_id=rule_id, location_id=location_id, starts_at=naive(starts_at),
        ends_at=naive(ends_at), reason=reason, created_by=created_by,
        created_at=naive(now or utcnow())))
    found = get_silence(conn, int(result.inserted_primary_key[0]))  # type: ignore[index]
    assert found is not None
    return found


def _silence_select() -> sa.Select[Any]:
    s = alarm_silences.c
    return (sa.select(alarm_silences, locations.c.name.label("location"))
            .select_from(alarm_silences.outerjoin(locations, locations.c.id == s.location_id)))


def _silence(r: Any) -> SilenceRecord:
    return SilenceRecord(
        id=int(r.id), rule_id=r.rule_id, location_id=r.location_id, location=r.location,
        starts_at=r.starts_at.replace(tzinfo=UTC), ends_at=r.ends_at.replace(tzinfo=UTC),
        reason=str(r.reason), created_by=str(r.created_by),
        created_at=r.created_at.replace(tzinfo=UTC),
    )


def get_silence(conn: Connection, silence_id: int) -> SilenceRecord | None:
    row = conn.execute(_silence_select().where(alarm_silences.c.id == silence_id)).first()
    return _silence(row) if row else None


def list_silences(
    conn: Connection, *, active_at: datetime | None = None, include_expired: bool = True,
    limit: int = 1000,
) -> list[SilenceRecord]:
    """Silences, newest first; with `active_at`, only those in force then; without
    `include_expired`, only those not yet over."""
    s = alarm_silences.c
    query = _silence_select().order_by(s.id.desc()).limit(limit)
    if active_at is not None:
        query = query.where(s.starts_at <= naive(active_at), s.ends_at > naive(active_at))
    elif not include_expired:
        query = query.where(s.ends_at > utcnow())
    return [_silence(r) for r in conn.execute(query)]


def delete_silence(conn: Connection, silence_id: int) -> bool:
    return bool(conn.execute(
        alarm_silences.delete().where(alarm_silences.c.id == silence_id)).rowcount)


# --- the evaluator's watermark and its input ---------------------------------------------------


def read_cursor(conn: Connection, *, lock: bool = False) -> int:
    """The highest metrics.id judged so far (0 at first). With `lock`, the row stays locked
    until the transaction ends, so two evaluators never judge the same samples at once."""
    c = alarm_cursor.c
    query = sa.select(c.last_id).where(c.name == CURSOR_NAME)
    if lock and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    found = conn.execute(query).scalar()
    if found is None:
        upsert_rows(conn, alarm_cursor, [
            {"name": CURSOR_NAME, "last_id": 0, "updated_at": utcnow()}], key=("name",))
        found = conn.execute(query).scalar()
    return int(found or 0)


def write_cursor(conn: Connection, last_id: int) -> None:
    conn.execute(alarm_cursor.update().where(alarm_cursor.c.name == CURSOR_NAME).values(
        last_id=last_id, updated_at=utcnow()))


@dataclass(frozen=True, slots=True)
class NewSamples:
    """Samples with metrics.id in (after_id, max_id] that an enabled rule watches, in columns
    (`ts_s`: seconds since 1970), how many ids were `scanned` (with or without a rule), and
    whether that id range had gaps (ids taken by transactions that may still commit)."""

    location_ids: list[int]
    metric_types: list[str]
    ts_s: list[float]
    values: list[float]
    max_id: int
    scanned: int
    has_gaps: bool = False


def _epoch_seconds(conn: Connection, column: Any) -> Any:
    """SQL for seconds since 1970 of a naive-UTC DATETIME column (no time-zone involved)."""
    backend = conn.dialect.name
    if backend in ("mysql", "mariadb"):
        return sa.func.timestampdiff(sa.text("SECOND"), sa.literal("1970-01-01 00:00:00"),
                                     column)
    if backend == "sqlite":
        return sa.cast(sa.func.strftime("%s", column), sa.Integer)  # whole seconds
    return sa.func.extract("epoch", column)


def read_new_samples(
    conn: Connection,
    *,
    after_id: int,
    limit: int,
    rescan: Sequence[tuple[int, int]] = (),
) -> NewSamples:
    """The next `limit` rows of the metrics table after `after_id`, keeping only those some
    enabled rule watches (one index range scan for the bound, one filtered read).

    `rescan`: id ranges (lo, hi] of earlier cycles that had gaps, read again: a store
    transaction that took ids early but committed late is judged on a later cycle instead of
    never (re-judging a sample already judged is a no-op)."""
    m, r = metrics.c, alarm_rules.c
    window = sa.select(m.id).where(m.id > after_id).order_by(m.id).limit(limit).subquery()
    top_id, scanned = conn.execute(
        sa.select(sa.func.max(window.c.id), sa.func.count())).one()
    top = int(top_id) if scanned else after_id
    ranges = [sa.and_(m.id > lo, m.id <= hi) for lo, hi in rescan if hi > lo]
    if top > after_id:
        ranges.append(sa.and_(m.id > after_id, m.id <= top))
    if not ranges:
        return NewSamples([], [], [], [], after_id, 0)
    watched = sa.exists().where(r.location_id == m.location_id, r.metric_type == m.metric_type,
                                r.enabled.is_(True))
    rows = conn.execute(
        sa.select(m.location_id, m.metric_type, _epoch_seconds(conn, m.timestamp), m.value)
        .where(sa.or_(*ranges), watched)
    ).all()
    return NewSamples(
        location_ids=[row[0] for row in rows], metric_types=[row[1] for row in rows],
        ts_s=[float(row[2]) for row in rows], values=[float(row[3]) for row in rows],
        max_id=top, scanned=int(scanned), has_gaps=int(scanned) != top - after_id,
    )
