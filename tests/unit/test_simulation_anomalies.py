"""Anomaly injector: labels match what was injected, deterministic per timestamp."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from preempt.domain import PHYSICAL_RANGES
from preempt.simulation import (
    ANOMALY_KINDS,
    AnomalyConfig,
    inject_anomalies,
    simulate_weather,
    simulate_with_anomalies,
)

DAY = 86400
T0 = 1_764_720_000


@pytest.fixture(scope="module")
def setup() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return rng.uniform(-60, 70, 300), rng.uniform(-180, 180, 300), np.arange(T0 - 7 * DAY, T0, 3600)


def test_labels_match_the_changed_samples(setup: tuple[np.ndarray, ...]) -> None:
    lat, lon, times = setup
    clean = simulate_weather(lat, lon, times, seed=4)
    inj = inject_anomalies(lat, lon, times, clean, seed=4, config=AnomalyConfig(rate_per_day=0.2))
    assert inj.labels
    assert set(Counter(label.kind for label in inj.labels)) == set(ANOMALY_KINDS)
    for metric, values in inj.values.items():
        changed = ~np.isclose(values, clean[metric], equal_nan=False) | np.isnan(values)
        assert not (changed & ~inj.masks[metric]).any(), metric
        low, high = PHYSICAL_RANGES[metric]
        finite = values[np.isfinite(values)]
        assert finite.min() >= low and finite.max() <= high
    rebuilt = {m: np.zeros_like(mask) for m, mask in inj.masks.items()}
    for label in inj.labels:
        inside = (times >= label.start_s) & (times < label.end_s)
        assert inside.any()
        rebuilt[label.metric][label.location_index] |= inside
        if label.kind == "dropout":
            assert np.isnan(inj.values[label.metric][label.location_index, inside]).all()
        if label.kind == "spike":
            assert inside.sum() == 1
            assert abs(label.magnitude) >= 10
    for metric in inj.masks:
        np.testing.assert_array_equal(rebuilt[metric], inj.masks[metric])


def test_anomalies_are_the_same_in_any_window(setup: tuple[np.ndarray, ...]) -> None:
    lat, lon, times = setup
    cfg = AnomalyConfig(rate_per_day=0.3)
    whole = simulate_with_anomalies(lat, lon, times, seed=2, config=cfg)
    part = simulate_with_anomalies(lat[40:60], lon[40:60], times[70:110], seed=2, config=cfg)
    for metric in whole.values:
        np.testing.assert_array_equal(whole.values[metric][40:60, 70:110], part.values[metric])
        np.testing.assert_array_equal(whole.masks[metric][40:60, 70:110], part.masks[metric])
    keys = {
        (lb.location_index - 40, lb.metric, lb.kind, lb.start_s)
        for lb in whole.labels
        if 40 <= lb.location_index < 60
        and part.masks[lb.metric][lb.location_index - 40].any()
        and ((times[70:110] >= lb.start_s) & (times[70:110] < lb.end_s)).any()
    }
    assert keys == {(lb.location_index, lb.metric, lb.kind, lb.start_s) for lb in part.labels}


def test_rate_and_kinds_are_configurable(setup: tuple[np.ndarray, ...]) -> None:
    lat, lon, times = setup
    none = simulate_with_anomalies(lat, lon, times, seed=1, config=AnomalyConfig(rate_per_day=0))
    assert none.labels == []
    cfg = AnomalyConfig(rate_per_day=1.0, kinds=("spike",), metrics=("wind_speed_10m",))
    spikes = simulate_with_anomalies(lat, lon, times, seed=1, config=cfg)
    assert {(lb.kind, lb.metric) for lb in spikes.labels} == {("spike", "wind_speed_10m")}
    per_location_day = len(spikes.labels) / (lat.size * 7)
    assert 0.8 < per_location_day < 1.2
    with pytest.raises(ValueError, match="unknown anomaly kind"):
        AnomalyConfig(kinds=("meteor",))


def test_extreme_heat_moves_dew_point_with_temperature(setup: tuple[np.ndarray, ...]) -> None:
    lat, lon, times = setup
    cfg = AnomalyConfig(rate_per_day=0.5, kinds=("extreme_heat",))
    inj = simulate_with_anomalies(lat, lon, times, seed=6, config=cfg)
    heat = [lb for lb in inj.labels if lb.metric == "temperature_2m"]
    assert heat and all(lb.magnitude >= 12 for lb in heat)
    dew = {(lb.location_index, lb.start_s) for lb in inj.labels if lb.metric == "dew_point_2m"}
    assert {(lb.location_index, lb.start_s) for lb in heat} == dew
