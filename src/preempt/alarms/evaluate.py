"""The alarm state machine over many samples and many rules at once.

`evaluate(rules, states, batch)` pairs every sample with the rules of its (location, metric),
computes breach / clear masks for all pairs with numpy, and steps the per-rule state machine in
Python only for rules that breach or are already pending/firing; a rule that stays ok costs
nothing past the vector step. Samples are judged in time order per rule, each at most once
(a sample not newer than the rule's `last_sample_at` is skipped), so re-running a batch adds no
transitions.

    ok/resolved --breach--> pending --breach held for_s--> firing --clear--> resolved
    ok/resolved --breach, for_s = 0--------------------->  firing
    pending --no breach--> ok

breach: `value <op> threshold`. clear: no breach and the value is `hysteresis` past the
threshold on the ok side (for `>`: value <= threshold - hysteresis), so a value hovering at the
threshold does not flap between firing and resolved.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from preempt.alarms.model import AlarmRule, RuleState, Transition, is_upward
from preempt.domain import Sample

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

_EPOCH = datetime(1970, 1, 1)


def epoch_s(moment: datetime) -> float:
    """Seconds since 1970 of a naive-UTC (or aware) datetime."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return (moment - _EPOCH).total_seconds()


def from_epoch_s(seconds: float) -> datetime:
    """The naive UTC datetime of `seconds` since 1970, to the microsecond."""
    return datetime.fromtimestamp(round(seconds, 6), UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class SampleBatch:
    """Samples in columns: `ts_s` is seconds since 1970 (UTC)."""

    location_id: Ints
    metric_type: Sequence[str]
    ts_s: Floats
    value: Floats

    def __len__(self) -> int:
        return int(self.value.shape[0])

    @classmethod
    def from_columns(
        cls,
        location_ids: Sequence[int],
        metric_types: Sequence[str],
        timestamps: Sequence[datetime],
        values: Sequence[float],
    ) -> SampleBatch:
        stamps = np.array(timestamps, dtype="datetime64[us]").astype(np.int64)
        return cls(
            location_id=np.asarray(location_ids, dtype=np.int64),
            metric_type=list(metric_types),
            ts_s=stamps.astype(np.float64) / 1e6,
            value=np.asarray(values, dtype=np.float64),
        )

    @classmethod
    def from_epoch_columns(
        cls,
        location_ids: Sequence[int],
        metric_types: Sequence[str],
        ts_s: Sequence[float],
        values: Sequence[float],
    ) -> SampleBatch:
        """From times already in seconds since 1970 (the fast path from the database)."""
        return cls(
            location_id=np.asarray(location_ids, dtype=np.int64),
            metric_type=list(metric_types),
            ts_s=np.asarray(ts_s, dtype=np.float64),
            value=np.asarray(values, dtype=np.float64),
        )

    @classmethod
    def from_samples(cls, samples: Iterable[Sample]) -> SampleBatch:
        rows = list(samples)
        return cls.from_columns(
            [s.location_id for s in rows], [s.metric_type for s in rows],
            [s.timestamp for s in rows], [s.value for s in rows],
        )


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation changed: the new state of each rule it moved or advanced, the
    transitions in time order per rule, and how many (sample, rule) pairs it judged."""

    states: dict[int, RuleState] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    pairs: int = 0


def evaluate(
    rules: Sequence[AlarmRule],
    states: Mapping[int, RuleState],
    batch: SampleBatch,
    *,
    not_before_s: float | None = None,
) -> Evaluation:
    """Judge `batch` against `rules` (states missing from `states` are ok).

    Samples older than `not_before_s` (seconds since 1970) are ignored: a back-fill of old
    history does not fire today's alarms. Returns only the states that changed or advanced
    (rules that stayed ok are left out: nothing to write).
    """
    if not rules or len(batch) == 0:
        return Evaluation()
    codes: dict[str, int] = {}
    for rule in rules:
        codes.setdefault(rule.metric_type, len(codes))
    width = len(codes) + 1
    rule_key = np.fromiter(
        (r.location_id * width + codes[r.metric_type] for r in rules), np.int64, len(rules)
    )
    metric_code = np.fromiter(
        (codes.get(m, -1) for m in batch.metric_type), np.int64, len(batch)
    )
    keep = (metric_code >= 0) & np.isfinite(batch.value)
    if not_before_s is not None:
        keep &= batch.ts_s >= not_before_s
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return Evaluation()
    s_key = batch.location_id[idx] * width + metric_code[idx]
    order = np.lexsort((batch.ts_s[idx], s_key))
    s_key = s_key[order]
    s_ts = batch.ts_s[idx][order]
    s_val = batch.value[idx][order]

    # Each rule's run of samples in the sorted order, expanded into (rule, sample) pairs.
    lo = np.searchsorted(s_key, rule_key, side="left")
    hi = np.searchsorted(s_key, rule_key, side="right")
    counts = (hi - lo).astype(np.int64)
    total = int(counts.sum())
    if total == 0:
        return Evaluation()
    starts = np.cumsum(counts) - counts
    pair_rule = np.repeat(np.arange(len(rules), dtype=np.int64), counts)
    pair_sample = np.arange(total, dtype=np.int64) - np.repeat(starts, counts) + np.repeat(
        lo.astype(np.int64), counts
    )
    last_seen = np.fromiter(
        (_last_seen(states.get(r.id)) for r in rules), np.float64, len(rules)
    )
    fresh = s_ts[pair_sample] > last_seen[pair_rule]
    pair_rule, pair_sample = pair_rule[fresh], pair_sample[fresh]
    if pair_rule.size == 0:
        return Evaluation()

    threshold = np.fromiter((r.threshold for r in rules), np.float64, len(rules))
    margin = np.fromiter((r.hysteresis for r in rules), np.float64, len(rules))
    upward = np.fromiter((is_upward(r.operator) for r in rules), bool, len(rules))
    inclusive = np.fromiter((r.operator in (">=", "<=") for r in rules), bool, len(rules))
    values = s_val[pair_sample]
    thr = threshold[pair_rule]
    up = upward[pair_rule]
    inc = inclusive[pair_rule]
    above = np.where(inc, values >= thr, values > thr)
    below = np.where(inc, values <= thr, values < thr)
    breach = np.where(up, above, below)
    back = np.where(up, values <= thr - margin[pair_rule], values >= thr + margin[pair_rule])
    clear = ~breach & back

    # Only rules that breach somewhere or are mid-episode need the sequential machine.
    busy = np.zeros(len(rules), dtype=bool)
    busy[pair_rule[breach]] = True
    for i, rule in enumerate(rules):
        state = states.get(rule.id)
        if state is not None and state.state in ("pending", "firing"):
            busy[i] = True
    result = Evaluation(pairs=int(pair_rule.size))
    if not busy.any():
        return result
    take = busy[pair_rule]
    pair_rule, pair_sample = pair_rule[take], pair_sample[take]
    breach, clear = breach[take], clear[take]
    if pair_rule.size == 0:  # the busy rules have no new samples
        return result
    bounds = np.flatnonzero(np.diff(pair_rule)) + 1
    ts_list = s_ts[pair_sample].tolist()
    val_list = s_val[pair_sample].tolist()
    br_list = breach.tolist()
    cl_list = clear.tolist()
    edges = [0, *bounds.tolist(), int(pair_rule.size)]
    for a, b in itertools.pairwise(edges):
        rule = rules[int(pair_rule[a])]
        new_state = _step(
            rule, states.get(rule.id) or RuleState(rule_id=rule.id),
            ts_list[a:b], val_list[a:b], br_list[a:b], cl_list[a:b], result.transitions,
        )
        result.states[rule.id] = new_state
    return result


def _last_seen(state: RuleState | None) -> float:
    if state is None or state.last_sample_at is None:
        return float("-inf")
    return epoch_s(state.last_sample_at)


def _step(
    rule: AlarmRule,
    state: RuleState,
    ts: list[float],
    values: list[float],
    breach: list[bool],
    clear: list[bool],
    out: list[Transition],
) -> RuleState:
    """Run one rule's state machine over its samples (time order); append its transitions."""
    current = state.state
    changed = epoch_s(state.changed_at) if state.changed_at else None
    since = epoch_s(state.breach_since) if state.breach_since else None

    def move(to: str, t: float, v: float) -> None:
        nonlocal current, changed
        out.append(Transition(rule_id=rule.id, from_state=current, to_state=to,
                              at=from_epoch_s(t), value=v, threshold=rule.threshold))
        current, changed = to, t

    for t, v, is_breach, is_clear in zip(ts, values, breach, clear, strict=True):
        if current in ("ok", "resolved"):
            if is_breach:
                since = t
                move("firing" if rule.for_s <= 0 else "pending", t, v)
        elif current == "pending":
            if not is_breach:
                since = None
                move("ok", t, v)
            elif since is None or t - since >= rule.for_s:
                move("firing", t, v)
        elif current == "firing" and is_clear:
            since = None
            move("resolved", t, v)
    return RuleState(
        rule_id=rule.id, state=current,
        changed_at=from_epoch_s(changed) if changed is not None else None,
        breach_since=from_epoch_s(since) if since is not None else None,
        last_sample_at=from_epoch_s(ts[-1]), last_value=values[-1],
    )
