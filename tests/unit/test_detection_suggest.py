"""Alarm suggestions: direction, backtest-backed confidence, floors, persistence, wording."""

from __future__ import annotations

import numpy as np

from preempt.detection import SeriesKey, SuggestParams, backtest, suggest

HOUR = 3600.0
T0 = 1_767_225_600.0
WIND = SeriesKey("Lisbon", "wind_speed_10m", "km/h", "Wind")
TEMP = SeriesKey("Oslo", "temperature_2m", "°C", "Temperature")


def calm_week(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    times = T0 + HOUR * np.arange(168)
    return times, np.round(20 + rng.normal(0, 4, 168).clip(-10, 10), 1)


def test_threshold_above_separates_gusts_and_backtest_counts_them() -> None:
    times, wind = calm_week()
    gusts = [20, 50, 90, 130, 160]
    wind[gusts] = [64.0, 70.0, 66.0, 75.0, 68.0]
    flags = np.zeros(168, dtype=bool)
    flags[gusts] = True
    (s,) = suggest(times, wind[None], flags[None], np.full((1, 168), 20.0), keys=[WIND])
    assert (s.direction, s.operator) == ("above", ">")
    assert 30.0 < s.threshold < 64.0
    assert (s.caught, s.missed, s.false_fires, s.fires) == (5, 0, 0, 5)
    assert s.persistence_k == 1  # single-hour gusts: a k-of-n rule would miss them
    assert s.normal_fire_rate == 0.0
    assert s.percentile > 95.0
    assert s.fires_per_week == 5.0
    assert s.confidence > 0.6
    assert s.description == (
        f"Wind above {s.threshold:g} km/h in Lisbon: would have fired 5 times in the last 7 days,"
        " catching 5 of 5 anomalies, no false alarms"
    )


def test_no_suggestion_under_three_anomalies() -> None:
    times, wind = calm_week()
    wind[[10, 100]] = 80.0
    flags = np.zeros(168, dtype=bool)
    flags[[10, 100]] = True
    assert suggest(times, wind[None], flags[None], np.full((1, 168), 20.0), keys=[WIND]) == []


def test_one_suggestion_per_direction_when_anomalies_fall_on_both_sides() -> None:
    times, temp = calm_week(1)
    highs, lows = [30, 31, 32, 100, 101, 102], [60, 61, 62, 140, 141, 142]
    temp[highs] = 40.0
    temp[lows] = 0.0
    flags = np.zeros(168, dtype=bool)
    flags[highs + lows] = True
    found = suggest(times, temp[None], flags[None], np.full((1, 168), 20.0), keys=[TEMP])
    by_side = {s.direction: s for s in found}
    assert set(by_side) == {"above", "below"}
    assert by_side["above"].operator == ">" and by_side["above"].threshold > 30.0
    assert by_side["below"].operator == "<" and by_side["below"].threshold < 10.0
    assert by_side["above"].persistence_k >= 2  # runs of 3: a stray hour does not page anyone
    assert "after 2 of 3 readings" in by_side["above"].description or by_side[
        "above"].persistence_k == 3


def test_each_direction_needs_three_anomalies_of_its_own() -> None:
    times, temp = calm_week(1)
    temp[[30, 100, 150]] = 40.0
    temp[[60, 140]] = 0.0
    flags = np.zeros(168, dtype=bool)
    flags[[30, 100, 150, 60, 140]] = True
    found = suggest(times, temp[None], flags[None], np.full((1, 168), 20.0), keys=[TEMP])
    assert [(s.direction, s.anomaly_count) for s in found] == [("above", 3)]


def test_confidence_comes_from_the_backtest_missed_anomalies_lower_it() -> None:
    times, wind = calm_week(2)
    flags = np.zeros(168, dtype=bool)
    flags[[20, 60, 100]] = True
    wind[[20, 60, 100]] = 70.0
    (clean,) = suggest(times, wind[None], flags[None], np.full((1, 168), 20.0), keys=[WIND])
    weak = wind.copy()
    weak[130] = 31.0  # an anomaly inside the normal range: no sane threshold catches it
    weak_flags = flags.copy()
    weak_flags[130] = True
    (partial,) = suggest(times, weak[None], weak_flags[None], np.full((1, 168), 20.0),
                         keys=[WIND])
    assert (clean.caught, clean.missed) == (3, 0)
    assert (partial.caught, partial.missed) == (3, 1)
    assert partial.confidence < clean.confidence
    assert "catching 3 of 4 anomalies" in partial.description


def test_a_normal_reading_as_high_as_the_anomalies_prevents_a_suggestion() -> None:
    times, wind = calm_week(2)
    flags = np.zeros(168, dtype=bool)
    flags[[20, 60, 100]] = True
    wind[[20, 60, 100]] = 70.0
    wind[140] = 72.0  # not flagged: any threshold catching the anomalies would fire on it
    assert suggest(times, wind[None], flags[None], np.full((1, 168), 20.0), keys=[WIND]) == []


def test_absolute_floor_no_wind_alarm_at_twelve_kmh() -> None:
    times = T0 + HOUR * np.arange(168)
    wind = np.full(168, 3.0)
    wind[[10, 50, 90]] = 12.0
    flags = np.zeros(168, dtype=bool)
    flags[[10, 50, 90]] = True
    assert suggest(times, wind[None], flags[None], np.full((1, 168), 3.0), keys=[WIND]) == []
    no_floor = SuggestParams(above_floors={})
    (s,) = suggest(times, wind[None], flags[None], np.full((1, 168), 3.0), keys=[WIND],
                   params=no_floor)
    assert s.threshold < 12.0


def test_never_a_threshold_that_fires_on_most_normal_data() -> None:
    times, temp = calm_week(3)
    flags = np.zeros(168, dtype=bool)
    flags[[5, 70, 150]] = True  # "anomalies" that are ordinary values
    for s in suggest(times, temp[None], flags[None], np.full((1, 168), 20.0), keys=[TEMP]):
        assert s.normal_fire_rate <= 0.01


def test_backtest_replays_k_of_n_persistence() -> None:
    values = np.array([0, 9, 0, 0, 9, 9, 0, 0, 0, 9, 9, 9, 0], dtype=float)
    anomalies = np.zeros(13, dtype=bool)
    anomalies[[9, 10, 11]] = True
    single, = backtest(values, anomalies, ~anomalies, np.array([5.0]), direction="above", k=1, n=1)
    assert (single.fires, single.true_fires, single.caught) == (3, 1, 3)
    two_of_three, = backtest(values, anomalies, ~anomalies, np.array([5.0]), direction="above",
                             k=2, n=3)
    assert (two_of_three.fires, two_of_three.true_fires, two_of_three.caught) == (2, 1, 3)
