"""Each statistical method on hand-made series with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from preempt.detection import DEFAULT_RULES, bands, detect, detect_causal, infer_interval_s

HOUR = 3600.0
T0 = 1_767_225_600.0  # 2026-01-01T00:00Z


def diurnal(days: int, *, seed: int = 0, noise: float = 0.3, amplitude: float = 6.0,
            n_series: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Hourly sine with a daily period (peak 15:00 UTC) plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    times = T0 + HOUR * np.arange(days * 24)
    hour = (times % 86400) / HOUR
    clean = 15.0 + amplitude * np.sin(2 * np.pi * (hour - 9) / 24)
    return times, clean[None, :] + rng.normal(0, noise, (n_series, times.size))


def test_spike_in_clean_sine_is_found_by_seasonal_and_nothing_else() -> None:
    times, values = diurnal(9)
    values[0, 200] += 8.0
    det = detect(times, values, split_s=times[168], method="seasonal")
    assert np.nonzero(det.is_anomaly[0])[0].tolist() == [200]
    assert det.method_scores["seasonal"][0, 200] > 0.9
    assert det.z[0, 200] > 0


def test_stuck_sensor_is_found() -> None:
    times, values = diurnal(9, noise=0.3)
    values = np.round(values, 1)
    values[0, 180:200] = values[0, 180]
    det = detect(times, values, split_s=times[168], method="seasonal")
    flagged = np.nonzero(det.is_anomaly[0])[0]
    assert flagged.size > 0
    assert flagged.min() >= 183 and flagged.max() < 200
    assert det.method_scores["stuck"][0, 199] >= 0.5


def test_rain_stuck_at_one_amount_is_found_after_a_mostly_dry_history() -> None:
    times = T0 + HOUR * np.arange(24 * 15)
    rain = np.zeros((1, times.size))
    rain[0, [40, 41, 100, 101, 102, 250]] = [0.4, 1.3, 0.2, 2.1, 0.7, 0.3]  # a few showers
    rain[0, 340:352] = 1.2  # a gauge reporting the same 1.2 mm every hour for 12 h
    det = detect(times, rain, split_s=times[336], method="seasonal",
                 metric_types=["precipitation"])
    assert det.method_scores["stuck"][0, 351] >= 0.5
    assert not det.is_anomaly[0, 336:340].any()


def test_constant_series_yields_nothing_and_no_nan() -> None:
    times = T0 + HOUR * np.arange(24 * 9)
    values = np.full((1, times.size), 7.0)
    for method in ("seasonal", "classic", "iforest", "hybrid"):
        det = detect(times, values, split_s=times[168], method=method)  # type: ignore[arg-type]
        assert not det.is_anomaly.any(), method
        assert np.isfinite(det.score).all()


def test_diurnal_peak_is_normal_for_seasonal_but_flagged_by_classic() -> None:
    rng = np.random.default_rng(1)
    times = T0 + HOUR * np.arange(9 * 24)
    hour = (times % 86400) / HOUR
    sun = np.clip(np.sin(2 * np.pi * (hour - 9) / 24), 0, None) ** 4  # sharp afternoon peak
    values = (10.0 + 12.0 * sun + rng.normal(0, 0.2, times.size))[None, :]
    seasonal = detect(times, values, split_s=times[168], method="seasonal")
    classic = detect(times, values, split_s=times[168], method="classic")
    new = np.arange(168, times.size)
    peaks = new[((times[new] % 86400) / HOUR).astype(int) == 15]
    assert not seasonal.is_anomaly[0, new].any()
    assert classic.is_anomaly[0, peaks].all()


def test_few_samples_flag_nothing_and_say_so() -> None:
    times, values = diurnal(2)
    values[0, 40] += 50.0
    det = detect(times, values, split_s=times[30], method="seasonal")
    assert not det.ready[0]
    assert not det.is_anomaly.any()


def test_gaps_and_nan_are_tolerated_and_dropout_flagged() -> None:
    times, values = diurnal(9)
    values[0, 20:36] = np.nan  # an old gap in the history
    values[0, 190:193] = np.nan  # readings missing now
    det = detect(times, values, split_s=times[168], method="seasonal")
    assert det.ready[0]
    assert np.nonzero(det.is_anomaly[0])[0].tolist() == [190, 191, 192]
    assert (det.method_scores["dropout"][0, 190:193] >= 0.5).all()
    assert np.isfinite(det.expected[0, 168:]).all()


def test_level_shift_and_drift_are_found_by_long_residual() -> None:
    times, values = diurnal(10, noise=0.3)
    values[0, 200:] += 6.0
    det = detect(times, values, split_s=times[192], method="seasonal")
    assert det.is_anomaly[0, 200:].mean() > 0.8
    assert not det.is_anomaly[0, 192:200].any()


def test_mixed_sampling_hourly_history_and_five_minute_values() -> None:
    times, values = diurnal(8, noise=0.2)
    extra_t = times[-1] + 300.0 * np.arange(1, 37)
    hour = (extra_t % 86400) / HOUR
    extra_v = 15.0 + 6.0 * np.sin(2 * np.pi * (hour - 9) / 24)
    extra_v[20] += 10.0
    all_t = np.concatenate([times, extra_t])
    all_v = np.concatenate([values[0], extra_v])[None, :]
    det = detect(all_t, all_v, split_s=extra_t[0], method="seasonal")
    assert np.nonzero(det.is_anomaly[0])[0].tolist() == [times.size + 20]
    assert infer_interval_s(all_t)[0] == HOUR


def test_per_series_time_axes_in_one_batch() -> None:
    times, values = diurnal(9, n_series=2)
    shifted = np.stack([times, times + 1800.0])
    values[1, 200] += 9.0
    det = detect(shifted, values, split_s=times[168] + np.array([0.0, 1800.0]), method="seasonal")
    assert not det.is_anomaly[0].any()
    assert np.nonzero(det.is_anomaly[1])[0].tolist() == [200]


def test_score_is_causal_future_samples_do_not_change_it() -> None:
    times, values = diurnal(10)
    altered = values.copy()
    altered[0, 200:] += 30.0
    a = detect_causal(times, values, method="hybrid")
    b = detect_causal(times, altered, method="hybrid")
    np.testing.assert_array_equal(a.score[0, :192], b.score[0, :192])


def test_causal_offline_equals_live_split_for_the_same_block() -> None:
    times, values = diurnal(9)
    values[0, 200] += 8.0
    offline = detect_causal(times, values, method="seasonal")
    # the window (two weeks) reaches back past the first sample: both see the same history
    live = detect(times, values, split_s=times[192], method="seasonal")
    np.testing.assert_allclose(offline.score[0, 192:216], live.score[0, 192:216])


def test_rules_flag_physically_impossible_values_without_history() -> None:
    times = T0 + HOUR * np.arange(5)
    values = np.array([[20.0, 61.0, 20.0, -45.0, 20.0], [5.0, -1.0, 0.0, 2.0, 0.0]])
    det = detect(times, values, split_s=times[0], method="seasonal", rules=DEFAULT_RULES,
                 metric_types=["temperature_2m", "precipitation"])
    assert np.nonzero(det.is_anomaly[0])[0].tolist() == [1, 3]
    assert np.nonzero(det.is_anomaly[1])[0].tolist() == [1]


def test_bands_follow_the_daily_cycle() -> None:
    times, values = diurnal(7, noise=0.1, amplitude=8.0)
    expected, lower, upper = bands(times, values)
    later = slice(72, None)
    assert np.nanmax(np.abs(expected[0, later] - values[0, later])) < 2.0
    assert (lower[0, later] <= upper[0, later]).all()
    assert np.nanmax(expected[0, later]) - np.nanmin(expected[0, later]) > 12.0


def test_unknown_method_is_refused() -> None:
    times, values = diurnal(8)
    with pytest.raises(ValueError, match="unknown method"):
        detect(times, values, split_s=times[168], method="magic")  # type: ignore[arg-type]


def test_empty_batches_and_all_missing_series_are_harmless() -> None:
    times = T0 + HOUR * np.arange(200)
    for method in ("seasonal", "classic", "iforest", "hybrid"):
        empty = detect(times, np.zeros((0, 200)), split_s=times[168], method=method)  # type: ignore[arg-type]
        assert empty.score.shape == (0, 200)
    missing = detect(times, np.full((2, 200), np.nan), split_s=times[168], method="hybrid")
    assert not missing.is_anomaly.any() and not missing.ready.any()


def test_a_fault_filling_days_of_the_history_does_not_tilt_the_baseline() -> None:
    times, values = diurnal(15, seed=4)
    values[0, 24 * 10:24 * 14] += 8.0  # four days of a shifted sensor end the history
    values[0, 24 * 14:] = diurnal(15, seed=5)[1][0, 24 * 14:]  # repaired: normal again
    det = detect(times, values, split_s=times[24 * 14], method="seasonal")
    assert not det.is_anomaly[0, 24 * 14:].any()


def test_a_fault_filling_part_of_the_window_widens_the_scale_at_most_four_mads() -> None:
    from preempt.detection.robust import MAD_TO_SIGMA, tail_scale

    rng = np.random.default_rng(7)
    residuals = rng.normal(0.0, 1.0, (1, 336))
    clean = tail_scale(residuals, np.zeros(1))
    residuals[0, :80] += 20.0  # a day-long shift in a fortnight of history
    mad = np.median(np.abs(residuals - np.median(residuals))) * MAD_TO_SIGMA
    shifted = tail_scale(residuals, np.zeros(1))
    assert 0.8 <= clean[0] < 1.5
    assert shifted[0] <= 4.0 * mad + 1e-9


def test_an_ordinary_shower_after_a_dry_week_is_weather_a_downpour_is_not() -> None:
    # the precipitation scale floor: after a dry week the spread is the floor, and a 10 mm hour
    # (a heavy but ordinary shower) must stay below the line while 30 mm is flagged
    times = T0 + HOUR * np.arange(9 * 24)
    values = np.zeros((1, times.size))
    values[0, 40] = 0.4
    values[0, 100] = 0.8
    values[0, 190] = 10.0
    values[0, 200] = 30.0
    det = detect(times, values, split_s=times[168], method="seasonal",
                 metric_types=["precipitation"])
    assert np.nonzero(det.is_anomaly[0])[0].tolist() == [200]
