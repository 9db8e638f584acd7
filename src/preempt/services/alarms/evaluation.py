"""Evaluation: the samples after the metrics.id watermark → rule states, transition history
and queued deliveries (the outbox), in the caller's transaction."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy.engine import Connection

from preempt.alarms.evaluate import SampleBatch, epoch_s, evaluate
from preempt.alarms.model import NOTIFY_STATES, quiet_hours_end
from preempt.config import AlarmSettings
from preempt.storage import alarms as store

logger = logging.getLogger(__name__)

TRANSITIONS = Counter("preempt_alarm_transitions_total", "Alarm state transitions recorded",
                      ["to_state"])


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class CycleResult:
    """What one evaluation did; `last_id` is the new watermark."""

    last_id: int
    samples: int = 0
    pairs: int = 0
    transitions: int = 0
    queued: int = 0
    suppressed: int = 0
    gaps: tuple[int, int] | None = None  # this cycle's id range, when it had gaps


def default_channels(settings: AlarmSettings) -> tuple[str, ...]:
    return tuple(c.name for c in settings.channels if c.default)


def evaluate_new_samples(
    conn: Connection,
    since_id: int,
    *,
    settings: AlarmSettings,
    rules: Sequence[store.RuleRecord] | None = None,
    now: datetime | None = None,
    rescan: Sequence[tuple[int, int]] = (),
) -> CycleResult:
    """Judge the samples with metrics.id > since_id (at most settings.batch_rows) against the
    enabled rules; record transitions and queue their notifications. The caller owns the
    transaction and stores the returned watermark with it. `rescan`: id ranges of earlier
    cycles that had gaps, read again for rows committed late (storage.alarms.read_new_samples).
    """
    stamp = now or utcnow()
    new = store.read_new_samples(conn, after_id=since_id, limit=settings.batch_rows,
                                 rescan=rescan)
    gaps = (since_id, new.max_id) if new.has_gaps else None
    if not new.values:
        return CycleResult(last_id=new.max_id, samples=new.scanned, gaps=gaps)
    keys = set(zip(new.location_ids, new.metric_types, strict=True))
    everyone = rules if rules is not None else store.list_rules(conn, enabled_only=True)
    relevant = [r for r in everyone if r.enabled and (r.location_id, r.metric_type) in keys]
    if not relevant:
        return CycleResult(last_id=new.max_id, samples=new.scanned, gaps=gaps)
    states = store.load_states(conn, [r.id for r in relevant])
    batch = SampleBatch.from_epoch_columns(new.location_ids, new.metric_types, new.ts_s,
                                           new.values)
    result = evaluate([r.core() for r in relevant], states, batch,
                      not_before_s=epoch_s(stamp) - settings.max_sample_age_s)
    by_id = {r.id: r for r in relevant}
    silences = store.list_silences(conn, active_at=stamp) if result.transitions else []
    now_aware = stamp.replace(tzinfo=UTC)
    plans: list[tuple[Any, int, str, str]] = []
    routes: dict[tuple[int, str, datetime], tuple[tuple[str, ...], datetime]] = {}
    for t in result.transitions:
        rule = by_id[t.rule_id]
        notify, channels, not_before = _plan(rule, t.to_state, now_aware, silences, settings)
        plans.append((t, rule.location_id, rule.metric_type, notify))
        if channels:
            routes[(t.rule_id, t.to_state, t.at)] = (channels, not_before)
        TRANSITIONS.labels(t.to_state).inc()
    added = store.record_transitions(conn, plans, now=stamp)
    kinds = {c.name: c.kind for c in settings.channels}
    deliveries = []
    for history_id, t in added:
        channels, not_before = routes.get((t.rule_id, t.to_state, t.at), ((), stamp))
        deliveries += [(history_id, c, kinds[c], not_before) for c in channels]
    store.enqueue_deliveries(conn, deliveries, now=stamp)
    store.save_states(conn, result.states.values(), now=stamp)
    suppressed = sum(1 for _t, _l, _m, n in plans if n in ("silenced", "no_channels"))
    return CycleResult(last_id=new.max_id, samples=new.scanned, gaps=gaps, pairs=result.pairs,
                       transitions=len(added), queued=len(deliveries), suppressed=suppressed)


def _plan(
    rule: store.RuleRecord,
    to_state: str,
    now: datetime,
    silences: Sequence[store.SilenceRecord],
    settings: AlarmSettings,
) -> tuple[str, tuple[str, ...], datetime]:
    """(notify outcome, channels to send to, not before) for one transition."""
    if to_state not in NOTIFY_STATES:
        return "none", (), now
    if any(s.covers(rule_id=rule.id, location_id=rule.location_id, at=now) for s in silences):
        return "silenced", (), now
    known = {c.name for c in settings.channels}
    wanted = rule.channels or default_channels(settings)
    channels = tuple(c for c in wanted if c in known)
    if len(channels) < len(wanted):
        logger.warning("alarm rule %d names unknown channel(s) %s", rule.id,
                       sorted(set(wanted) - known))
    if not channels:
        return "no_channels", (), now
    quiet_end = quiet_hours_end(rule.quiet_hours, now, rule.timezone)
    if quiet_end is not None:
        return "quiet_hours", channels, quiet_end.replace(tzinfo=None)
    return "queued", channels, now.replace(tzinfo=None)


class RuleCache:
    """Enabled rules, reloaded only when the rules table changed (one cheap query a cycle)."""

    def __init__(self) -> None:
        self._version: tuple[int, int, str] | None = None
        self._rules: list[store.RuleRecord] = []

    def get(self, conn: Connection) -> list[store.RuleRecord]:
        version = store.rules_version(conn)
        if version != self._version:
            self._rules = store.list_rules(conn, enabled_only=True)
            self._version = version
        return self._rules
