"""NaN-aware robust statistics along the last axis of 2-D batches, and score calibration.

numpy's nanmedian falls back to a Python loop per row for large batches; these helpers sort once
and index, so a batch of 50,000 series costs a few vectorised passes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation


def nan_quantile(values: FloatArray, q: float) -> FloatArray:
    """Quantile q in [0, 1] along the last axis ignoring NaN (linear interpolation), NaN if none."""
    ordered = np.sort(values, axis=-1)  # NaN sorts last
    count = np.sum(~np.isnan(values), axis=-1)
    pos = np.clip((count - 1) * q, 0.0, None)
    low = np.floor(pos).astype(np.int64)
    high = np.minimum(low + 1, np.maximum(count - 1, 0))
    low_v = np.take_along_axis(ordered, low[..., None], axis=-1)[..., 0]
    high_v = np.take_along_axis(ordered, high[..., None], axis=-1)[..., 0]
    out = low_v + (high_v - low_v) * (pos - low)
    return np.where(count > 0, out, np.nan)


def nan_median(values: FloatArray) -> FloatArray:
    """Median along the last axis ignoring NaN; NaN where a row has no finite value."""
    return nan_quantile(values, 0.5)


def nan_mad(values: FloatArray, center: FloatArray) -> FloatArray:
    """Median absolute deviation from `center` (one value per row) along the last axis."""
    return nan_median(np.abs(values - center[..., None]))


def nan_count(values: FloatArray) -> IntArray:
    return np.asarray(np.sum(~np.isnan(values), axis=-1), dtype=np.int64)


def nan_std(values: FloatArray) -> FloatArray:
    """Population standard deviation ignoring NaN; NaN for empty rows, no warnings."""
    count = nan_count(values)
    safe = np.maximum(count, 1)
    mean = np.nansum(values, axis=-1) / safe
    dev = np.where(np.isnan(values), 0.0, values - mean[..., None])
    var = np.sum(dev * dev, axis=-1) / safe
    return np.where(count > 0, np.sqrt(var), np.nan)


def nan_mean(values: FloatArray) -> FloatArray:
    count = nan_count(values)
    return np.where(count > 0, np.nansum(values, axis=-1) / np.maximum(count, 1), np.nan)


def tail_scale(
    residuals: FloatArray,
    floor: FloatArray,
    std_fraction: float = 0.25,
    trim: float = 20.0,
    max_tail: float = 4.0,
) -> FloatArray:
    """Gaussian-equivalent sigma that respects heavy tails: the largest of the MAD estimate,
    the 90th and 99th percentile of |residual| read as normal quantiles, a share of the standard
    deviation, and the floor. Weather residuals are heavy-tailed (fronts, showers), so the MAD
    alone would call a few percent of normal hours "4 sigma". The tails may widen the scale to
    at most `max_tail` times the MAD estimate (or the floor): a tail wider than that is a past
    fault filling part of the window (a day-long shift), which must not hide the next one."""
    centre = np.nan_to_num(nan_median(residuals), nan=0.0)
    mad = np.nan_to_num(nan_mad(residuals, centre), nan=0.0) * MAD_TO_SIGMA
    dev = np.abs(residuals - centre[:, None])
    # gross outliers (past anomalies in the window) must not widen the tails they are judged by
    dev = np.where(dev <= trim * np.maximum(mad, floor)[:, None], dev, np.nan)
    q90 = np.nan_to_num(nan_quantile(dev, 0.90), nan=0.0) / 1.645
    q99 = np.nan_to_num(nan_quantile(dev, 0.99), nan=0.0) / 2.576
    std = np.nan_to_num(nan_std(np.where(np.isnan(dev), np.nan, residuals)), nan=0.0) * std_fraction
    widest = np.maximum(max_tail * mad, floor)
    scale = np.minimum(np.maximum.reduce([mad, q90, q99, std, floor]), widest)
    return np.asarray(scale, dtype=np.float64)


def score_from_ratio(ratio: FloatArray) -> FloatArray:
    """Calibrated score in [0, 1] from a ratio `|statistic| / decision threshold`.

    score = 1 - 2**(-ratio**2): 0 for a perfectly normal sample, exactly 0.5 at the method's
    decision threshold (so `score >= 0.5` means "flagged" for every method), 0.94 at twice the
    threshold and 1 in the limit. NaN ratios (no data) give 0.
    """
    r = np.nan_to_num(np.abs(ratio), nan=0.0, posinf=1e6)
    return np.asarray(1.0 - np.exp2(-np.minimum(r * r, 1e3)), dtype=np.float64)


def ratio_from_score(score: FloatArray) -> FloatArray:
    """Inverse of score_from_ratio (for thresholds expressed as scores)."""
    s = np.clip(score, 0.0, 1.0 - 1e-12)
    return np.asarray(np.sqrt(-np.log2(1.0 - s)), dtype=np.float64)


def run_duration_s(times_s: FloatArray, values: FloatArray) -> FloatArray:
    """For each sample, seconds since the first of the run of identical consecutive values it ends.

    A sample whose value differs from its predecessor (or is NaN) has duration 0. Row-wise,
    vectorised: the start of the current run is a running maximum of break positions.
    """
    n = values.shape[-1]
    same = np.zeros(values.shape, dtype=bool)
    same[..., 1:] = values[..., 1:] == values[..., :-1]  # NaN == NaN is False: NaN breaks runs
    idx = np.broadcast_to(np.arange(n, dtype=np.int64), values.shape)
    start = np.maximum.accumulate(np.where(same, 0, idx), axis=-1)
    t = np.broadcast_to(times_s, values.shape)
    return np.asarray(t - np.take_along_axis(t, start, axis=-1), dtype=np.float64)
