"""Properties every detector keeps, on random seeded data (hypothesis), and the shared quality
check: injected anomalies outscore normal points for every method."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preempt.detection import METHODS, detect

HOUR = 3600.0
T0 = 1_767_225_600.0
N_HOURS = 24 * 8
SPLIT = T0 + HOUR * 24 * 7
TIMES = T0 + HOUR * np.arange(N_HOURS)

SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def batches(draw: st.DrawFn) -> np.ndarray:
    """2-4 series: level, daily amplitude, noise, optional NaN gaps and constant stretches."""
    n_series = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    hour = (TIMES % 86400) / HOUR
    rows = []
    for _ in range(n_series):
        level = draw(st.floats(-30, 1000))
        amplitude = draw(st.floats(0, 20))
        noise = draw(st.sampled_from([0.0, 0.01, 0.5, 5.0]))
        row = level + amplitude * np.sin(2 * np.pi * hour / 24) + rng.normal(0, noise, N_HOURS)
        if draw(st.booleans()):
            row = np.round(row, 1)
        rows.append(row)
    return np.stack(rows)


def with_gaps(values: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = values.copy()
    out[rng.random(values.shape) < 0.1] = np.nan
    return out


@pytest.mark.parametrize("method", METHODS)
@SETTINGS
@given(values=batches(), gaps=st.booleans())
def test_scores_are_in_unit_interval_and_nan_free(method: str, values: np.ndarray,
                                                   gaps: bool) -> None:
    data = with_gaps(values, 1) if gaps else values
    det = detect(TIMES, data, split_s=SPLIT, method=method)  # type: ignore[arg-type]
    assert np.isfinite(det.score).all()
    assert (det.score >= 0).all() and (det.score <= 1).all()
    for scores in det.method_scores.values():
        assert np.isfinite(scores).all()
        assert (scores >= 0).all() and (scores <= 1).all()
    assert (det.is_anomaly == (det.score >= 0.5)).all()
    if not gaps:
        new = det.scored
        assert np.isfinite(det.expected[new]).all()
        assert np.isfinite(det.lower[new]).all() and np.isfinite(det.upper[new]).all()


@pytest.mark.parametrize("method", ["seasonal", "classic", "hybrid"])
@SETTINGS
@given(values=batches(), order_seed=st.integers(0, 1000))
def test_permuting_series_permutes_results(method: str, values: np.ndarray,
                                           order_seed: int) -> None:
    order = np.random.default_rng(order_seed).permutation(values.shape[0])
    det = detect(TIMES, values, split_s=SPLIT, method=method)  # type: ignore[arg-type]
    shuffled = detect(TIMES, values[order], split_s=SPLIT, method=method)  # type: ignore[arg-type]
    if method == "hybrid":
        # forests are seeded per batch, so compare the statistical part exactly and the flags
        np.testing.assert_allclose(shuffled.method_scores["seasonal"],
                                   det.method_scores["seasonal"][order])
    else:
        np.testing.assert_allclose(shuffled.score, det.score[order])
    np.testing.assert_allclose(shuffled.expected, det.expected[order])


@SETTINGS
@given(values=batches(), shift=st.floats(-1e4, 1e4), factor=st.floats(0.1, 100))
def test_seasonal_scores_ignore_units_and_offsets(values: np.ndarray, shift: float,
                                                  factor: float) -> None:
    det = detect(TIMES, values, split_s=SPLIT, method="seasonal")
    moved = detect(TIMES, values * factor + shift, split_s=SPLIT, method="seasonal")
    # same ranking of samples; floors (data resolution) may differ, so compare the top sample
    assert np.array_equal(det.score.argmax(axis=1), moved.score.argmax(axis=1)) or (
        det.score.max() < 0.5 and moved.score.max() < 0.5
    )


def _labelled(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """30 diurnal series with a spike, a dip, a level shift or a stuck stretch in the new day."""
    rng = np.random.default_rng(seed)
    hour = (TIMES % 86400) / HOUR
    base = 12 + 7 * np.sin(2 * np.pi * (hour - 9) / 24)
    values = np.round(base + np.cumsum(rng.normal(0, 0.15, (30, N_HOURS)), axis=1)
                      + rng.normal(0, 0.4, (30, N_HOURS)), 1)
    truth = np.zeros(values.shape, dtype=bool)
    for s in range(30):
        kind = s % 4
        at = 168 + rng.integers(2, 16)
        if kind == 0:
            values[s, at] += 9.0
            truth[s, at] = True
        elif kind == 1:
            values[s, at] -= 9.0
            truth[s, at] = True
        elif kind == 2:
            values[s, at:at + 6] += 10.0
            truth[s, at:at + 6] = True
        else:
            values[s, at:at + 8] = values[s, at]
            truth[s, at + 4:at + 8] = True
    return values, truth


@pytest.mark.parametrize("method", METHODS)
def test_every_detector_scores_injected_anomalies_above_normal_points(method: str) -> None:
    values, truth = _labelled(11)
    det = detect(TIMES, values, split_s=SPLIT, method=method)  # type: ignore[arg-type]
    new = det.scored
    anomalous = det.score[truth & new]
    normal = det.score[~truth & new]
    # ranking quality (AUC) and the median anomaly above the 95th percentile of normal points
    auc = (anomalous[:, None] > normal[None, :]).mean() + 0.5 * (
        anomalous[:, None] == normal[None, :]).mean()
    floor = {"classic": 0.7}.get(method, 0.85)
    assert auc > floor, f"{method}: AUC {auc:.2f}"
    if method != "classic":
        assert np.median(anomalous) > np.quantile(normal, 0.95)
