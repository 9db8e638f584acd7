"""Expected bands stay within what a metric can physically be (charts and anomaly explanations)."""

from __future__ import annotations

import numpy as np

from preempt.detection import DetectorParams, bands, detect
from preempt.detection.seasonal import SeasonalParams

HOUR = 3600.0
T0 = 1_700_000_000.0 // 86400 * 86400


def _humid_and_showery() -> tuple[np.ndarray, np.ndarray]:
    """Ten days: humidity swinging 85-100 % (saturated every night), rain in scattered hours."""
    times = T0 + HOUR * np.arange(10 * 24)
    rng = np.random.default_rng(3)
    humidity = np.minimum(100.0, 92 + 10 * np.cos(2 * np.pi * times / 86400)
                          + rng.normal(0, 2, times.size))
    rain = np.where(rng.random(times.size) < 0.15, rng.gamma(1.0, 2.0, times.size), 0.0)
    return times, np.vstack([humidity, rain])


def test_chart_bands_stay_within_physical_ranges() -> None:
    times, values = _humid_and_showery()
    raw = bands(times[None, :].repeat(2, 0), values)
    clipped = bands(times[None, :].repeat(2, 0), values,
                    metric_types=["relative_humidity_2m", "precipitation"])
    assert np.nanmax(raw[2][0]) > 100.0 and np.nanmin(raw[1][1]) < 0.0  # what it guards against
    expected, lower, upper = clipped
    assert np.nanmax(upper[0]) <= 100.0 and np.nanmax(expected[0]) <= 100.0
    assert np.nanmin(lower[1]) >= 0.0 and np.nanmin(expected[1]) >= 0.0
    assert np.isfinite(upper).sum() == np.isfinite(raw[2]).sum()  # clipped, not dropped


def test_detection_bands_are_clipped_and_unbounded_metrics_are_not() -> None:
    times, values = _humid_and_showery()
    temperature = 10 + 8 * np.sin(2 * np.pi * times / 86400)
    det = detect(times, np.vstack([values, temperature]), split_s=times[-24],
                 method="seasonal",
                 metric_types=["relative_humidity_2m", "precipitation", "temperature_2m"])
    new = det.scored
    assert np.nanmax(det.upper[0][new[0]]) <= 100.0
    assert np.nanmin(det.lower[1][new[1]]) >= 0.0
    free = detect(times, temperature[None, :], split_s=times[-24], method="seasonal",
                  metric_types=["temperature_2m"])
    assert np.allclose(det.lower[2], free.lower[0], equal_nan=True)


def _rain_after_a_faulty_gauge() -> tuple[np.ndarray, np.ndarray, float]:
    """A week of scattered showers; the gauge read 15 mm too much for the last 3 days of it (a
    level shift that lifts the baseline), then it is mended: the day after is dry but for one
    45 mm hour."""
    times = T0 + HOUR * np.arange(8 * 24)
    rng = np.random.default_rng(7)
    rain = np.where(rng.random(times.size) < 0.15, rng.gamma(1.0, 2.0, times.size), 0.0)
    split = times[-24]
    rain[(times >= split - 3 * 86400) & (times < split)] += 15.0
    rain[times >= split] = 0.0
    rain[-6] = 45.0
    return times, rain, split


def test_dry_hours_are_never_unusual_rain() -> None:
    times, rain, split = _rain_after_a_faulty_gauge()
    generic = detect(times, rain[None, :], split_s=split, method="seasonal",
                     params=DetectorParams(seasonal=SeasonalParams(min_scale=2.0)))
    assert generic.is_anomaly[0, :-6].any()  # what it guards against: "drier than the fault"
    det = detect(times, rain[None, :], split_s=split, method="hybrid",
                 metric_types=["precipitation"])
    new = np.flatnonzero(det.is_anomaly[0] & det.scored[0])
    assert new.tolist() == [times.size - 6]  # only the 45 mm hour
