"""Combine, rules table, explanations, bands and false-positive feedback."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from preempt.detection import (
    DEFAULT_RULES,
    FalsePositive,
    Rule,
    SeriesKey,
    apply_rules,
    combine,
    detect,
    severity_of,
    similar_to_false_positives,
    suppress,
)
from preempt.detection.consistency import humidity_from

HOUR = 3600.0
T0 = 1_767_225_600.0


def weather(days: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Temperature, dew point and a consistent humidity for one place, hourly."""
    rng = np.random.default_rng(seed)
    times = T0 + HOUR * np.arange(days * 24)
    hour = (times % 86400) / HOUR
    temp = 14 + 6 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(0, 0.3, times.size)
    dew = 6 + rng.normal(0, 0.3, times.size)
    rh = humidity_from(temp, dew)
    values = np.round(np.stack([temp, dew, rh]), 1)
    return times, values, ["temperature_2m", "dew_point_2m", "relative_humidity_2m"]


def test_one_anomaly_per_timestamp_with_methods_severity_and_explanation() -> None:
    times, values, metrics = weather()
    values[0, 180] = 65.0  # impossible temperature: rules and seasonal both fire
    det = detect(times, values, split_s=times[168], method="hybrid", rules=DEFAULT_RULES,
                 metric_types=metrics, groups=["lisbon"] * 3)
    keys = [SeriesKey("Lisbon", m, "°C" if m != "relative_humidity_2m" else "%",
                      label=m.split("_")[0].title()) for m in metrics]
    anomalies = combine(det, times, values, keys=keys)
    at_180 = [a for a in anomalies if a.index == 180]
    assert [(a.series, a.index) for a in at_180] == [(0, 180)]
    first = at_180[0]
    assert {"rules", "seasonal"} <= set(first.methods)
    assert first.severity == "high" and 0.9 <= first.score <= 1.0
    assert first.lower < first.expected < first.upper < 65.0
    assert "Temperature in Lisbon was 65.0 °C" in first.explanation
    assert "usual range for this place and hour" in first.explanation
    assert "rules" in first.explanation


def test_consistency_blames_the_faulty_sensor_not_its_neighbours() -> None:
    times, values, metrics = weather(9)
    values[0, 190:200] += 3.0  # temperature offset: ordinary weather size, wrong against humidity
    det = detect(times, values, split_s=times[168], method="seasonal", metric_types=metrics,
                 groups=["x"] * 3)
    flagged = det.method_scores["consistency"] >= 0.5
    assert flagged[0, 190:200].sum() >= 8
    assert not flagged[1:].any()
    assert not det.is_anomaly[0, 168:190].any()


def test_without_groups_no_consistency_is_attempted() -> None:
    times, values, metrics = weather()
    det = detect(times, values, split_s=times[168], method="seasonal", metric_types=metrics)
    assert "consistency" not in det.method_scores


def test_severity_comes_from_the_combined_score() -> None:
    assert [severity_of(s) for s in (0.3, 0.5, 0.8, 0.95)] == [None, "low", "medium", "high"]


def test_rules_table_is_configurable_and_persistent_rules_need_a_run() -> None:
    values = np.array([[100.0] * 30, [20.0, 250.0] + [20.0] * 28])
    score, which = apply_rules(DEFAULT_RULES, ["relative_humidity_2m", "wind_speed_10m"], values)
    assert (score[0, :23] == 0).all() and (score[0, 23:] > 0).all()  # 24 h saturated
    assert which[1, 1] == 5 and score[1, 1] == 0.95
    custom = (Rule("wind_speed_10m", ">=", 20.0, "low"),)
    score, _ = apply_rules(custom, ["relative_humidity_2m", "wind_speed_10m"], values)
    assert (score[1] == 0.6).all() and (score[0] == 0).all()


def test_false_positive_feedback_suppresses_similar_flags_only() -> None:
    times = T0 + HOUR * np.array([15, 15 + 24, 15 + 48, 3 + 72, 15 + 96])
    values = np.array([[32.0, 31.0, 40.0, 32.0, 28.0]])
    expected = np.full(values.shape, 25.0)
    fp = FalsePositive("lisbon/temperature_2m", value=32.0, expected=25.0, hour_utc=15.0)
    similar = similar_to_false_positives(["lisbon/temperature_2m"], times, values, expected, [fp],
                                         margin=1.0)
    # same hour and side, not beyond the marked value by more than the margin
    assert similar[0].tolist() == [True, True, False, False, True]
    flags = np.ones(values.shape, dtype=bool)
    assert suppress(flags, similar)[0].tolist() == [False, False, True, True, False]
    other = similar_to_false_positives(["porto/temperature_2m"], times, values, expected, [fp])
    assert not other.any()


def test_false_positive_side_is_that_of_its_z_when_its_value_is_the_expected_one() -> None:
    # a rain gauge shifted up: the short-term expectation has caught up (value == expected),
    # the flag came from the long baseline (z > 0)
    times = T0 + HOUR * np.array([18, 18 + 24, 17 + 48])
    values = np.array([[22.0, 20.0, 30.0]])
    expected = np.array([[22.0, 35.0, 35.0]])  # below the short-term level, above the long one
    z = np.array([[7.0, 6.5, 8.0]])
    fp = FalsePositive("x/precipitation", value=22.0, expected=22.0, hour_utc=18.0, side=7.0)
    by_value = similar_to_false_positives(["x/precipitation"], times, values, expected,
                                          [replace(fp, side=None)])
    assert not by_value.any()  # value - expected: no side, nothing silenced
    by_z = similar_to_false_positives(["x/precipitation"], times, values, expected, [fp], sides=z)
    assert by_z[0].tolist() == [True, True, False]  # 30 mm is beyond the 22 mm marked normal


def test_consistency_blames_a_frozen_sensor_while_the_air_changes() -> None:
    times, values, metrics = weather(9)
    ramp = np.clip((np.arange(times.size) - 180) / 20.0, 0.0, 1.0) * 5.0
    true_dew = values[1] + ramp  # moister air arrives: the humidity rises with the dew point
    values[2] = np.round(humidity_from(values[0], true_dew), 1)
    values[1] = np.round(true_dew, 1)
    values[1, 180:204] = values[1, 180]  # but the dew point sensor holds its reading for a day
    det = detect(times, values, split_s=times[168], method="seasonal", metric_types=metrics,
                 groups=["x"] * 3)
    flagged = det.method_scores["consistency"] >= 0.5
    assert flagged[1, 180:204].any()
    assert not flagged[[0, 2]].any()


def test_consistency_flags_nobody_when_no_sensor_explains_the_break_better() -> None:
    times, values, metrics = weather(9)
    # temperature and dew point both 4 °C high with the humidity unchanged: either one could be
    # wrong, so neither is blamed
    values[0, 190:200] += 4.0
    values[1, 190:200] += 4.0
    det = detect(times, values, split_s=times[168], method="seasonal", metric_types=metrics,
                 groups=["x"] * 3)
    assert not (det.method_scores["consistency"][2] >= 0.5).any()


def test_humidity_that_follows_its_temperature_and_dew_point_is_weather() -> None:
    times, values, metrics = weather(9)
    # moist air arrives: dew point up 8 °C for half a day, humidity follows by Magnus (weather)
    values[1, 190:202] += 8.0
    values[2] = np.round(humidity_from(values[0], values[1]), 1)
    alone = detect(times, values[2:], split_s=times[168], method="hybrid")
    assert alone.is_anomaly[0, 190:202].any()  # on its own the humidity jump looks unusual
    det = detect(times, values, split_s=times[168], method="hybrid", metric_types=metrics,
                 groups=["x"] * 3)
    assert not det.is_anomaly[2].any()
    assert det.is_anomaly[1, 190:202].any()  # the dew point carries the news in its own unit
    # a humidity sensor fault breaks the relation and is still found
    values[2, 210:216] -= 30.0
    det = detect(times, values, split_s=times[168], method="hybrid", metric_types=metrics,
                 groups=["x"] * 3)
    assert det.is_anomaly[2, 210:216].all()


def test_warm_air_after_a_humidity_fault_does_not_move_the_blame_to_temperature() -> None:
    times, values, metrics = weather(10)
    # warm air arrives at hour 196 (temperature and dew point together; humidity follows) ...
    warm = np.clip((np.arange(values.shape[1]) - 196) / 6, 0, 1) * 5.0
    values[0] += warm
    values[1] += warm
    values[2] = np.round(humidity_from(values[0], values[1]), 1)
    values[2, 190:230] += 15.0  # ... while the humidity sensor reads 15 % high from hour 190
    det = detect(times, values, split_s=times[168], method="seasonal", metric_types=metrics,
                 groups=["x"] * 3)
    flagged = det.method_scores["consistency"] >= 0.5
    assert flagged[2, 190:230].all()
    assert not flagged[:2].any()


def test_a_humidity_fault_pinned_at_saturation_keeps_its_blame_when_the_fog_lifts() -> None:
    times, values, metrics = weather(10)
    idx = np.arange(values.shape[1])
    # fog from hour 200 (dew point up to the temperature), lifting from hour 212 ...
    fog = np.clip((idx - 196) / 4, 0, 1) - np.clip((idx - 212) / 4, 0, 1)
    true_dew = values[1] + fog * (values[0] - 0.2 - values[1])
    values[1] = np.round(true_dew, 1)
    true_rh = humidity_from(values[0], true_dew)
    # ... while the humidity sensor reads 15 % high from hour 190: in the fog it shows 100 %,
    # which the Magnus relation cannot tell from the truth
    values[2] = np.round(np.where((idx >= 190) & (idx < 240), np.minimum(true_rh + 15, 100),
                                  true_rh), 1)
    det = detect(times, values, split_s=times[168], method="seasonal", metric_types=metrics,
                 groups=["x"] * 3)
    flagged = det.method_scores["consistency"] >= 0.5
    assert not flagged[:2].any()  # the dew point falling as the fog lifts is weather
    assert flagged[2, 216:240].sum() >= 20


def test_temperature_and_dew_point_far_off_together_are_a_spell_on_both() -> None:
    times, values, metrics = weather(10)
    bump = np.sin(np.pi * np.clip((np.arange(values.shape[1]) - 200) / 30, 0, 1))
    size = 3.0  # °C: 6 robust units, inside each reading's own long band (7)
    warm = values.copy()
    warm[0] += size * bump
    warm[1] += size * bump
    warm[2] = np.round(humidity_from(warm[0], warm[1]), 1)
    det = detect(times, warm, split_s=times[168], method="hybrid", metric_types=metrics,
                 groups=["x"] * 3)
    spell = det.method_scores["spell"] >= 0.5
    assert spell[0, 205:225].any() and spell[1, 205:225].any()
    assert not spell[2].any() and not spell[:, :200].any()
    assert det.is_anomaly[0, 205:225].any()
    alone = det.method_scores["seasonal"][:2] >= 0.5
    assert alone.sum() < spell[:2].sum() // 2  # mostly too small to be news on their own
    anomaly = next(a for a in combine(det, times, warm) if "spell" in a.methods)
    assert "heat wave" in anomaly.explanation
    # one reading alone, or the two apart, is not a spell
    for sign in (1.0, -1.0):
        apart = values.copy()
        apart[0] += size * bump
        apart[1] += sign * size * bump if sign < 0 else 0.0
        det = detect(times, apart, split_s=times[168], method="hybrid", metric_types=metrics,
                     groups=["x"] * 3)
        assert not (det.method_scores["spell"] >= 0.5).any()
