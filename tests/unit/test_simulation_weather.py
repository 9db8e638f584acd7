"""Synthetic weather: physical ranges, determinism across windows, Magnus consistency."""

from __future__ import annotations

import numpy as np
import pytest

from preempt.domain import PHYSICAL_RANGES
from preempt.simulation import (
    METRICS,
    dew_point_c,
    relative_humidity_pct,
    simulate_points,
    simulate_weather,
)

DAY = 86400
T0 = 1_764_720_000  # 2025-12-03T00:00Z


@pytest.fixture(scope="module")
def grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    lat = rng.uniform(-75, 78, 400)
    lon = rng.uniform(-180, 180, 400)
    times = np.arange(T0 - 14 * DAY, T0, 3600)
    return lat, lon, times


def test_values_stay_in_physical_ranges(grid: tuple[np.ndarray, ...]) -> None:
    lat, lon, times = grid
    weather = simulate_weather(lat, lon, times, seed=1)
    for metric in METRICS:
        low, high = PHYSICAL_RANGES[metric]
        values = weather[metric]
        assert values.shape == (lat.size, times.size)
        assert np.isfinite(values).all()
        assert values.min() >= low and values.max() <= high, metric
    assert (weather["dew_point_2m"] <= weather["temperature_2m"] + 1e-9).all()
    assert (weather["wind_gusts_10m"] >= weather["wind_speed_10m"]).all()


def test_same_timestamp_same_value_whatever_the_window(grid: tuple[np.ndarray, ...]) -> None:
    lat, lon, times = grid
    whole = simulate_weather(lat, lon, times, seed=5)
    part = simulate_weather(lat[10:20], lon[10:20], times[100:130], seed=5)
    points = simulate_points(lat[10:13], lon[10:13], times[[100, 101, 102]], seed=5)
    for metric in METRICS:
        np.testing.assert_array_equal(whole[metric][10:20, 100:130], part[metric])
        np.testing.assert_array_equal(np.diag(whole[metric][10:13, 100:103]), points[metric])


def test_seed_changes_the_weather(grid: tuple[np.ndarray, ...]) -> None:
    lat, lon, times = grid
    a = simulate_weather(lat[:5], lon[:5], times[:48], seed=1)["temperature_2m"]
    b = simulate_weather(lat[:5], lon[:5], times[:48], seed=2)["temperature_2m"]
    assert not np.allclose(a, b)


def test_hourly_precipitation_is_the_sum_of_its_quarters(grid: tuple[np.ndarray, ...]) -> None:
    lat, lon, times = grid
    hourly = simulate_weather(lat[:50], lon[:50], times[1:49], seed=3)
    quarters = np.arange(times[0] + 900, times[48] + 1, 900)
    fine = simulate_weather(lat[:50], lon[:50], quarters, seed=3, step_s=900)
    summed = fine["precipitation"].reshape(50, 48, 4).sum(axis=2)
    np.testing.assert_allclose(summed, hourly["precipitation"], atol=1e-9)
    np.testing.assert_array_equal(fine["temperature_2m"][:, 3::4], hourly["temperature_2m"])


def test_seasons_and_days_follow_latitude_and_sun() -> None:
    january = np.arange(T0 + 30 * DAY, T0 + 60 * DAY, 3600)  # ~Jan 2026
    north = simulate_weather([60.0], [10.0], january, seed=1)["temperature_2m"].mean()
    south = simulate_weather([-35.0], [10.0], january, seed=1)["temperature_2m"].mean()
    tropics = simulate_weather([1.0], [104.0], january, seed=1)["temperature_2m"].mean()
    assert north < south < tropics + 8
    day = np.arange(T0, T0 + 20 * DAY, 3600)
    temp = simulate_weather([48.0], [0.0], day, seed=1)["temperature_2m"][0].reshape(20, 24)
    hum = simulate_weather([48.0], [0.0], day, seed=1)["relative_humidity_2m"][0].reshape(20, 24)
    # Afternoon warmer and drier than early morning (local solar time = UTC at 0° E).
    assert temp[:, 15].mean() > temp[:, 5].mean() + 3
    assert hum[:, 15].mean() < hum[:, 5].mean()


def test_rain_comes_with_high_humidity(grid: tuple[np.ndarray, ...]) -> None:
    lat, lon, times = grid
    weather = simulate_weather(lat, lon, times, seed=1)
    raining = weather["precipitation"] > 0.5
    assert 0.01 < raining.mean() < 0.3
    assert weather["relative_humidity_2m"][raining].mean() > (
        weather["relative_humidity_2m"][~raining].mean() + 10
    )


def test_magnus_round_trip() -> None:
    t = np.array([-30.0, 0.0, 20.0, 35.0])
    rh = np.array([80.0, 55.0, 40.0, 100.0])
    td = dew_point_c(t, rh)
    np.testing.assert_allclose(relative_humidity_pct(t, td), rh, atol=1e-9)
    assert td[-1] == pytest.approx(35.0)


def test_fronts_travel_east() -> None:
    """A location 16° east sees the same synoptic temperature pattern about two days later."""
    times = np.arange(T0, T0 + 60 * DAY, 3600)
    west = simulate_weather([50.0], [0.0], times, seed=9)["temperature_2m"][0]
    east = simulate_weather([50.0], [16.0], times, seed=9)["temperature_2m"][0]

    def daily_anomaly(series: np.ndarray) -> np.ndarray:
        daily = series.reshape(60, 24).mean(axis=1)
        return daily - np.convolve(daily, np.ones(7) / 7, mode="same")

    w, e = daily_anomaly(west)[5:-5], daily_anomaly(east)[5:-5]
    lags = {lag: np.corrcoef(w[: len(w) - lag], e[lag:])[0, 1] for lag in range(0, 5)}
    assert max(lags, key=lambda lag: lags[lag]) >= 1
