"""Record check: beyond every value of a record of a year or more, and only then."""

from __future__ import annotations

import numpy as np

from preempt.detection import detect, detect_causal
from preempt.detection.records import YEAR_S, Records, record_ratio, records_before

HOUR = 3600.0
DAY = 86400.0
T0 = 1_704_067_200.0  # 2024-01-01T00:00Z


def daily_series(days: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Hourly temperatures with a yearly cycle (15 +/- 10 °C), a daily cycle and noise."""
    rng = np.random.default_rng(seed)
    times = T0 + HOUR * np.arange(days * 24)
    year = 15 + 10 * np.sin(2 * np.pi * (times - T0) / YEAR_S)
    day = 4 * np.sin(2 * np.pi * (times % DAY) / DAY)
    return times, (year + day + rng.normal(0, 1.0, times.size))[None, :]


def test_new_record_after_a_year_is_flagged_however_slowly_it_came() -> None:
    times, values = daily_series(400)
    top = float(np.max(values[0, : 24 * 380]))
    heat = np.arange(24 * 390, 24 * 393)  # three days that build to 2 °C above the record
    values[0, heat] = np.linspace(top - 1.0, top + 2.0, heat.size)
    det = detect_causal(times, values, method="seasonal")
    flagged = np.nonzero(det.method_scores["record"][0] >= 0.5)[0]
    assert flagged.size > 0 and set(flagged.tolist()) <= set(heat.tolist())
    assert det.is_anomaly[0, heat[-1]]


def test_no_record_check_in_the_first_year() -> None:
    times, values = daily_series(200)
    values[0, 24 * 150] = float(np.max(values[0, : 24 * 150])) + 0.5  # a record of 150 days
    det = detect_causal(times, values, method="seasonal")
    assert not (det.method_scores["record"] >= 0.5).any()


def test_records_before_each_block_use_only_earlier_samples() -> None:
    times = np.arange(6, dtype=np.float64) * DAY
    values = np.array([[1.0, 5.0, np.nan, 2.0, 9.0, 0.0]])
    rec = records_before(times, values, np.array([0.0, 2.0 * DAY, 5.0 * DAY]))
    assert rec.high.tolist() == [-np.inf, 5.0, 9.0]
    assert rec.low.tolist() == [np.inf, 1.0, 1.0]
    assert rec.span_s.tolist() == [0.0, 2.0 * DAY, 5.0 * DAY]


def test_record_ratio_is_one_at_the_record_and_grows_with_the_excess() -> None:
    rec = Records(np.array([30.0]), np.array([-10.0]), np.array([2 * YEAR_S]))
    ratio = record_ratio(np.array([[29.0, 30.5, 32.0, -12.0]]), rec, np.array([1.0]))
    assert ratio.tolist() == [[0.0, 1.5, 3.0, 3.0]]


def test_live_detect_without_records_runs_no_record_check() -> None:
    times, values = daily_series(30)
    det = detect(times, values, split_s=times[-24], method="seasonal")
    assert "record" not in det.method_scores
