"""The alarm state machine: for-duration, hysteresis, idempotence, bulk pairing of samples and
rules, and quiet-hours arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from preempt.alarms import (
    AlarmRule,
    RuleState,
    SampleBatch,
    default_hysteresis,
    evaluate,
    parse_quiet_hours,
    quiet_hours_end,
)
from preempt.alarms.evaluate import epoch_s

T0 = datetime(2026, 7, 1, 12, 0)
STEP = timedelta(minutes=5)


def series(values: list[float], *, location_id: int = 1, metric: str = "temperature_2m",
           start: datetime = T0) -> SampleBatch:
    n = len(values)
    return SampleBatch.from_columns(
        [location_id] * n, [metric] * n, [start + i * STEP for i in range(n)], values
    )


def path(rule: AlarmRule, values: list[float]) -> list[str]:
    """The sequence of states entered while judging `values` one batch at a time."""
    states: dict[int, RuleState] = {}
    entered: list[str] = []
    for i, v in enumerate(values):
        result = evaluate([rule], states, series([v], start=T0 + i * STEP))
        entered += [t.to_state for t in result.transitions]
        states.update(result.states)
    return entered


HOT = AlarmRule(id=1, location_id=1, metric_type="temperature_2m", operator=">", threshold=35.0,
                hysteresis=1.0)


def test_fires_on_the_first_sample_beyond_the_threshold_and_resolves_with_hysteresis() -> None:
    result = evaluate([HOT], {}, series([30, 36, 35.5, 34.5, 33.9, 33]))
    moves = [(t.from_state, t.to_state, t.value) for t in result.transitions]
    assert moves == [("ok", "firing", 36.0), ("firing", "resolved", 33.9)]
    assert result.states[1].state == "resolved"
    assert result.states[1].last_sample_at == T0 + 5 * STEP


def test_a_value_hovering_at_the_threshold_does_not_flap() -> None:
    hovering = [35.2, 34.8, 35.1, 34.9, 35.3, 34.7, 35.05]
    assert path(HOT, hovering) == ["firing"]
    without = AlarmRule(id=1, location_id=1, metric_type="temperature_2m", operator=">",
                        threshold=35.0)
    assert path(without, hovering).count("firing") == 4


def test_for_duration_waits_in_pending_before_firing() -> None:
    rule = AlarmRule(id=1, location_id=1, metric_type="temperature_2m", operator=">",
                     threshold=35.0, for_s=600)
    result = evaluate([rule], {}, series([36, 36, 36, 36]))
    assert [(t.to_state, t.at) for t in result.transitions] == [
        ("pending", T0), ("firing", T0 + 2 * STEP)]


def test_a_breach_shorter_than_for_duration_goes_back_to_ok_without_firing() -> None:
    rule = AlarmRule(id=1, location_id=1, metric_type="temperature_2m", operator=">",
                     threshold=35.0, for_s=600)
    assert path(rule, [36, 36, 30, 36, 30]) == ["pending", "ok", "pending", "ok"]


def test_pending_survives_between_batches() -> None:
    rule = AlarmRule(id=1, location_id=1, metric_type="temperature_2m", operator="<",
                     threshold=-10.0, for_s=300)
    assert path(rule, [-11, -12, -12]) == ["pending", "firing"]


def test_re_judging_the_same_samples_adds_no_transition() -> None:
    batch = series([30, 36, 37])
    first = evaluate([HOT], {}, batch)
    again = evaluate([HOT], first.states, batch)
    assert len(first.transitions) == 1
    assert again.transitions == []


def test_samples_older_than_not_before_are_ignored() -> None:
    batch = series([36, 36, 30])
    result = evaluate([HOT], {}, batch, not_before_s=epoch_s(T0 + 2 * STEP))
    assert result.transitions == []


@pytest.mark.parametrize(("operator", "value", "fires"), [
    (">=", 35.0, True), (">", 35.0, False), ("<=", 35.0, True), ("<", 35.0, False),
    ("<", 34.0, True), (">", 36.0, True),
])
def test_operators(operator: str, value: float, fires: bool) -> None:
    rule = AlarmRule(id=1, location_id=1, metric_type="temperature_2m", operator=operator,
                     threshold=35.0)
    result = evaluate([rule], {}, series([value]))
    assert [t.to_state for t in result.transitions] == (["firing"] if fires else [])


def test_bulk_pairs_each_sample_with_the_rules_of_its_location_and_metric_only() -> None:
    rng = np.random.default_rng(7)
    locations, metrics = 200, ("temperature_2m", "wind_speed_10m")
    rules = [AlarmRule(id=i + 1, location_id=1 + i % locations,
                       metric_type=metrics[(i // locations) % 2], operator=">", threshold=50.0)
             for i in range(400)]
    # Two rules on one key: both fire.
    rules.append(AlarmRule(id=999, location_id=1, metric_type="temperature_2m", operator=">",
                           threshold=60.0))
    locs, kinds, stamps, values = [], [], [], []
    for loc in range(1, locations + 1):
        for metric in (*metrics, "precipitation"):
            for k in range(3):
                locs.append(loc)
                kinds.append(metric)
                stamps.append(T0 + k * STEP)
                values.append(float(rng.uniform(0, 40)))
    hot = {(1, "temperature_2m"), (7, "temperature_2m"), (8, "wind_speed_10m")}
    for i, (loc, metric) in enumerate(zip(locs, kinds, strict=True)):
        if (loc, metric) in hot and stamps[i] == T0 + STEP:
            values[i] = 99.0
        if metric == "precipitation":
            values[i] = 1000.0  # no rule watches precipitation
    order = rng.permutation(len(values))  # arrival order does not matter
    batch = SampleBatch.from_columns([locs[i] for i in order], [kinds[i] for i in order],
                                     [stamps[i] for i in order], [values[i] for i in order])
    result = evaluate(rules, {}, batch)
    fired = {t.rule_id for t in result.transitions if t.to_state == "firing"}
    by_key = {(r.location_id, r.metric_type): r.id for r in rules if r.id != 999}
    assert fired == {by_key[k] for k in hot} | {999}
    assert result.pairs == 400 * 3 + 3


def test_nan_values_are_skipped() -> None:
    assert evaluate([HOT], {}, series([float("nan"), 36])).transitions[0].value == 36.0


def test_default_hysteresis_is_one_readings_noise_capped_by_the_threshold() -> None:
    assert default_hysteresis("temperature_2m", 35.0) == 0.5
    assert default_hysteresis("wind_speed_10m", 80.0) == 2.0
    assert default_hysteresis("precipitation", 1.0) == pytest.approx(0.1)
    assert default_hysteresis("temperature_2m", 0.0) == 0.5


def test_quiet_hours_wrap_midnight_in_the_locations_time_zone() -> None:
    assert parse_quiet_hours("22:00-07:00")[0].hour == 22
    # 23:30 in Tokyo (UTC+9) is 14:30 UTC; quiet until 07:00 Tokyo = 22:00 UTC.
    at = datetime(2026, 7, 1, 14, 30, tzinfo=UTC)
    assert quiet_hours_end("22:00-07:00", at, "Asia/Tokyo") == datetime(2026, 7, 1, 22, 0,
                                                                         tzinfo=UTC)
    assert quiet_hours_end("22:00-07:00", at, "UTC") is None
    assert quiet_hours_end("13:00-15:00", at, "UTC") == datetime(2026, 7, 1, 15, 0, tzinfo=UTC)
    assert quiet_hours_end(None, at) is None
    with pytest.raises(ValueError, match="22:00-07:00"):
        parse_quiet_hours("late")
