"""Seasonal robust baseline: hour-of-day profile + level/trend, median/MAD scale, causal residuals.

For every series of a batch, the baseline is fitted on the samples before `split_s` (the history,
by default the previous 7 days) and applied to every sample; a sample's short-term level uses only
the cells before its own, so scores of samples at or after `split_s` are causal.

Two residuals are scored (Cleveland et al. 1990 in spirit, robust like Hampel's identifier):
- short: value - (profile[hour] + median of the deseasonalised values of the last
  `level_cells` cells): finds spikes, dips and sudden jumps within hours;
- long: value - (profile[hour] + robust linear trend of the window): finds level shifts, drift,
  heat and cold spells that the short level would absorb.
Each is divided by its own robust scale (1.4826 * MAD of the history's residuals, with floors for
constant or quantised series), and the sample's ratio is max(|z_short| / z_threshold,
|z_long| / long_z_threshold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from preempt.detection.grid import DAY_S, build_grid, cell_values
from preempt.detection.robust import (
    BoolArray,
    FloatArray,
    nan_count,
    nan_mean,
    nan_median,
    run_duration_s,
    tail_scale,
)


@dataclass(frozen=True, slots=True)
class SeasonalParams:
    """Tuning of the seasonal method; defaults fit hourly weather with a 14-day history.

    window_s: history used for the baseline: two weeks, so that the scales have seen more than
    one weather regime (a calm week alone makes the next front look like a fault) and a fault
    in the history is a smaller share of it. cell_s: grid cell (hourly). level_cells: cells in the
    short-term level (median of the last 6 hours). z_threshold / long_z_threshold: decision
    thresholds of the short and long residual; normal_z: a value within this long-residual z is
    back to normal and not flagged by the short residual. min_history_cells: fewer valid
    history cells than this and the series is "not ready" (nothing flagged).
    min_cycle_explained: share of variance the hour-of-day profile must explain to be used.
    stuck_alpha: a run of identical values is flagged when its probability under the history's
    repeat rate falls below this;
    min_stuck_samples: never flag shorter runs. min_scale: absolute floor of both scales, in the
    metric's unit (one value for all series or one per series). plateau: a value runs may rest
    on naturally (0 mm rain, 100 % humidity), NaN for none, one value or one per series.
    upward_only: only residuals above the baseline are scored (rain: a dry hour is weather).
    """

    window_s: float = 14 * DAY_S
    cell_s: float = 3600.0
    level_cells: int = 6
    z_threshold: float = 6.0
    long_z_threshold: float = 7.0
    normal_z: float = 1.5
    min_history_cells: int = 72
    min_cycle_explained: float = 0.1
    stuck_alpha: float = 1e-4
    min_stuck_samples: int = 4
    std_fraction: float = 0.25
    min_scale: float | FloatArray = 0.0
    plateau: float | FloatArray = np.nan
    upward_only: bool | BoolArray = False


@dataclass(frozen=True, slots=True)
class SeasonalFit:
    """Per-sample residuals (S, n) and per-series baseline facts (S,) of one batch.

    `is_new` marks samples at or after the split (the ones to score, NaN values included);
    `ready` is False for series with too little history; `missing_ratio` scores a missing value
    (a scheduled time with NaN value) by how rare gaps are in the history; `profile` is the
    hour-of-day profile per cell of a day.
    """

    is_new: BoolArray
    is_hist: BoolArray
    ready: BoolArray
    has_cycle: BoolArray
    expected_short: FloatArray
    expected_long: FloatArray
    scale_short: FloatArray
    scale_long: FloatArray
    z_short: FloatArray
    z_long: FloatArray
    stuck_ratio: FloatArray
    missing_ratio: FloatArray
    profile: FloatArray
    history_count: FloatArray


def fit_seasonal(
    times: FloatArray, values: FloatArray, *, split_s: FloatArray, params: SeasonalParams
) -> SeasonalFit:
    """Fit the baseline on samples in [split - window, split) and compute residuals of all."""
    n_series = values.shape[0]
    cell_s = params.cell_s
    per_day = round(DAY_S / cell_s)
    window_cells = round(params.window_s / cell_s)
    origin = np.floor((split_s - window_cells * cell_s) / cell_s) * cell_s
    # cells after the window: as many as the row reaching furthest past its own split needs
    latest = np.max(np.where(np.isfinite(times), times, -np.inf), axis=1, initial=-np.inf)
    ahead = float(np.max(latest - split_s, initial=-np.inf))
    future = max(0, int(np.ceil(ahead / cell_s)) + 2) if np.isfinite(ahead) else 0
    n_cells = window_cells + future
    grid = build_grid(times, values, origin_s=origin, cell_s=cell_s, n_cells=n_cells)
    hist = grid.means[:, :window_cells]
    in_window = (grid.cell >= 0) & np.isfinite(values)
    is_hist = in_window & (times < split_s[:, None])
    is_new = np.isfinite(times) & (times >= split_s[:, None])  # value may be NaN (dropout)

    profile, has_cycle = _daily_profile(hist, per_day=per_day, params=params)
    cols = np.arange(n_cells) % per_day if per_day > 0 else np.zeros(n_cells, dtype=np.int64)
    season_cells = profile[:, cols] if per_day > 0 else np.zeros_like(grid.means)
    deseason = grid.means - season_cells
    long_cells = _trend(deseason[:, :window_cells], n_cells=n_cells, per_day=max(per_day, 1))
    level_cells = _short_level(deseason, params.level_cells)
    level_cells = np.where(np.isnan(level_cells), long_cells, level_cells)

    season_t = _profile_at(times, origin, cell_s, profile, is_hist, per_day)
    season_t = np.where(grid.cell >= 0, season_t, np.nan)
    expected_long = season_t + cell_values(long_cells, grid.cell)
    expected_short = season_t + cell_values(level_cells, grid.cell)
    r_short = values - expected_short
    r_long = values - expected_long

    floor = _scale_floor(times, values, is_hist, params.min_scale, n_series)
    scale_short = tail_scale(np.where(is_hist, r_short, np.nan), floor, params.std_fraction)
    scale_long = tail_scale(np.where(is_hist, r_long, np.nan), floor, params.std_fraction)
    history_count = nan_count(hist).astype(np.float64)
    ready = history_count >= params.min_history_cells
    z_short = r_short / scale_short[:, None]
    z_long = r_long / scale_long[:, None]
    stuck = _stuck_ratio(times, values, is_hist, params)
    missing = _missing_ratio(times, values, split_s, params)
    return SeasonalFit(
        is_new=is_new,
        is_hist=is_hist,
        ready=ready,
        has_cycle=has_cycle,
        expected_short=expected_short,
        expected_long=expected_long,
        scale_short=scale_short,
        scale_long=scale_long,
        z_short=z_short,
        z_long=z_long,
        stuck_ratio=stuck,
        missing_ratio=missing,
        profile=profile,
        history_count=history_count,
    )


def seasonal_ratio(fit: SeasonalFit, params: SeasonalParams) -> FloatArray:
    """max(|z_short| / z_threshold, |z_long| / long_z_threshold); 0 for series not ready.

    A value back inside the usual range for the hour (|z_long| < normal_z) is not flagged by
    the short residual: that is the recovery after a spell, a stuck sensor or a shift, not news.
    Upward-only series score only residuals above their baseline.
    """
    z_short, z_long = _scored_z(fit, params)
    short = np.where(np.abs(z_long) >= params.normal_z, np.abs(z_short), 0.0)
    ratio = np.fmax(short / params.z_threshold, np.abs(z_long) / params.long_z_threshold)
    return np.where(fit.ready[:, None], np.nan_to_num(ratio, nan=0.0), 0.0)


def seasonal_z(fit: SeasonalFit, params: SeasonalParams) -> FloatArray:
    """Signed z of the residual that weighs most against its threshold, as scored (its sign is
    the side a flag is raised on)."""
    z_short, z_long = _scored_z(fit, params)
    shorter = np.abs(z_short) / params.z_threshold >= np.abs(z_long) / params.long_z_threshold
    return np.asarray(np.where(shorter, z_short, z_long), dtype=np.float64)


def _scored_z(fit: SeasonalFit, params: SeasonalParams) -> tuple[FloatArray, FloatArray]:
    """(z_short, z_long) as scored: upward-only series keep only residuals above baseline."""
    if not np.any(params.upward_only):
        return fit.z_short, fit.z_long
    up = np.broadcast_to(np.asarray(params.upward_only), fit.ready.shape)[:, None]
    return np.where(up, np.fmax(fit.z_short, 0.0), fit.z_short), np.where(
        up, np.fmax(fit.z_long, 0.0), fit.z_long)


def seasonal_band(fit: SeasonalFit, params: SeasonalParams) -> tuple[FloatArray, FloatArray]:
    """(lower, upper): values inside are not flagged by either residual; short band if disjoint."""
    k_s, k_l = params.z_threshold, params.long_z_threshold
    lo_s = fit.expected_short - k_s * fit.scale_short[:, None]
    hi_s = fit.expected_short + k_s * fit.scale_short[:, None]
    lo_l = fit.expected_long - k_l * fit.scale_long[:, None]
    hi_l = fit.expected_long + k_l * fit.scale_long[:, None]
    lower, upper = np.fmax(lo_s, lo_l), np.fmin(hi_s, hi_l)
    disjoint = lower > upper
    return np.where(disjoint, lo_s, lower), np.where(disjoint, hi_s, upper)


def _daily_profile(
    hist: FloatArray, *, per_day: int, params: SeasonalParams
) -> tuple[FloatArray, BoolArray]:
    """Hour-of-day profile (S, per_day) centred on 0, zero where no daily cycle is found."""
    n_series, n_hist = hist.shape
    days = n_hist // per_day if per_day >= 4 else 0
    if days < 2:
        return np.zeros((n_series, max(per_day, 1))), np.zeros(n_series, dtype=bool)
    recent = hist[:, n_hist - days * per_day :]
    # columns of `recent` line up with cell index mod per_day because n_hist is whole days
    shift = (n_hist - days * per_day) % per_day
    by_day = recent.reshape(n_series, days, per_day).transpose(0, 2, 1)
    raw = nan_median(by_day)
    raw = np.where(nan_count(by_day) >= 2, raw, np.nan)
    centred = raw - nan_mean(raw)[:, None]
    centred = np.roll(np.nan_to_num(centred, nan=0.0), shift, axis=1)
    level = nan_median(hist)
    cols = np.arange(n_hist) % per_day
    before = nan_mean((hist - level[:, None]) ** 2)
    after = nan_mean((hist - level[:, None] - centred[:, cols]) ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        explained = np.where(before > 0, 1.0 - after / before, 0.0)
    has_cycle = np.nan_to_num(explained, nan=0.0) >= params.min_cycle_explained
    return np.where(has_cycle[:, None], centred, 0.0), has_cycle


def _trend(deseason_hist: FloatArray, *, n_cells: int, per_day: int) -> FloatArray:
    """Robust line through the window, extrapolated at most one day: Theil-Sen over daily
    medians (the median of the slopes of all pairs of days), so a fault or a spell filling
    a day or two of the window neither tilts nor lifts the line."""
    n_series, n_hist = deseason_hist.shape
    days = n_hist // per_day
    if days < 3:
        level = nan_median(deseason_hist)
        slope = np.zeros(n_series)
        centre = (n_hist - 1) / 2.0
    else:
        daily = nan_median(deseason_hist[:, n_hist - days * per_day:].reshape(
            n_series, days, per_day))
        x = (n_hist - days * per_day) + per_day * (np.arange(days) + 0.5) - 0.5
        i, j = np.triu_indices(days, k=1)
        slopes = (daily[:, j] - daily[:, i]) / (x[j] - x[i])
        slope = np.nan_to_num(nan_median(slopes), nan=0.0)
        level = nan_median(daily - slope[:, None] * x[None, :])
        centre = 0.0
    pos = np.minimum(np.arange(n_cells, dtype=np.float64), n_hist - 1 + per_day)
    return np.asarray(level[:, None] + slope[:, None] * (pos[None, :] - centre), dtype=np.float64)


def _short_level(deseason: FloatArray, width: int) -> FloatArray:
    """Median of the previous `width` cells for each cell (NaN when fewer than half are valid)."""
    n_series, n_cells = deseason.shape
    padded = np.concatenate([np.full((n_series, width), np.nan), deseason], axis=1)
    windows = sliding_window_view(padded[:, :n_cells + width - 1], width, axis=1)
    level = nan_median(windows)
    enough = nan_count(windows) >= max(1, (width + 1) // 2)
    return np.where(enough, level, np.nan)


def _scale_floor(
    times: FloatArray,
    values: FloatArray,
    is_hist: BoolArray,
    min_scale: float | FloatArray,
    n_series: int,
) -> FloatArray:
    """Per-series floor: the data's resolution (smallest step seen) and the configured minimum."""
    hist_vals = np.where(is_hist, values, np.nan)
    steps = np.abs(np.diff(hist_vals, axis=1))
    steps = np.where(steps > 1e-12, steps, np.nan)
    resolution = np.nan_to_num(np.nanmin(np.where(np.isnan(steps), np.inf, steps), axis=1,
                                         initial=np.inf), posinf=0.0)
    magnitude = np.nan_to_num(nan_median(np.abs(hist_vals)), nan=0.0)
    tiny = 1e-9 * (1.0 + magnitude)
    floor = np.broadcast_to(np.asarray(min_scale, dtype=np.float64), (n_series,))
    return np.asarray(np.maximum.reduce([resolution, tiny, floor]), dtype=np.float64)


def _stuck_ratio(
    times: FloatArray, values: FloatArray, is_hist: BoolArray, params: SeasonalParams
) -> FloatArray:
    """Run duration of identical values / the duration the history makes improbable (S, n)."""
    duration = run_duration_s(times, values)
    hist_vals = np.where(is_hist, values, np.nan)
    # a value the history holds often (0 mm of rain, 100 % humidity in fog) repeats naturally:
    # runs at it are not judged, and it does not count towards the repeat rate
    mode, share = _frequent_value(hist_vals)
    common = (share >= 0.05)[:, None]
    plateau = np.broadcast_to(np.asarray(params.plateau, dtype=np.float64), mode.shape)[:, None]
    natural = (common & (values == mode[:, None])) | (values == plateau)
    hist_vals = np.where(natural & is_hist, np.nan, hist_vals)
    duration = np.where(natural, 0.0, duration)
    pairs = np.isfinite(hist_vals[:, 1:]) & np.isfinite(hist_vals[:, :-1])
    repeats = (hist_vals[:, 1:] == hist_vals[:, :-1]) & pairs
    n_pairs = pairs.sum(axis=1)
    p_repeat = (repeats.sum(axis=1) + 1.0) / (n_pairs + 2.0)  # Laplace: never exactly 0 or 1
    with np.errstate(divide="ignore"):
        needed = np.ceil(np.log(params.stuck_alpha) / np.log(p_repeat))
    needed = np.maximum(needed, params.min_stuck_samples - 1)
    hist_times = np.where(is_hist, times, np.nan)
    step = np.diff(hist_times, axis=1)
    interval = nan_median(np.where(step > 0, step, np.nan))
    limit = needed * np.nan_to_num(interval, nan=np.inf)
    # few pairs are enough: the Laplace rate keeps them cautious (2 pairs without a repeat ask
    # for 7 equal readings in a row), and a mostly dry week has only a few pairs of rain hours
    usable = (n_pairs >= 2) & (p_repeat < 0.5) & np.isfinite(limit) & (limit > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = duration / limit[:, None]
    return np.where(usable[:, None], np.nan_to_num(ratio, nan=0.0, posinf=0.0), 0.0)


def _missing_ratio(
    times: FloatArray, values: FloatArray, split_s: FloatArray, params: SeasonalParams
) -> FloatArray:
    """1 + 0.1 per further missing sample in a row, for NaN values at a scheduled time at or
    after the split, where at most 20 % of the history is missing; else 0."""
    scheduled = np.isfinite(times)
    hist = scheduled & (times < split_s[:, None]) & (times >= (split_s - params.window_s)[:, None])
    n_hist = hist.sum(axis=1)
    gap_share = np.where(n_hist > 0, (hist & np.isnan(values)).sum(axis=1) / np.maximum(n_hist, 1),
                         1.0)
    missing = scheduled & np.isnan(values)
    run = run_duration_s(np.cumsum(np.ones_like(values), axis=1), np.where(missing, 0.0, np.nan))
    ratio = np.where(missing & (times >= split_s[:, None]), 1.0 + 0.1 * run, 0.0)
    return np.where((gap_share <= 0.2)[:, None], ratio, 0.0)


def _frequent_value(values: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Most frequent exact value per row and the share of finite samples that hold it."""
    ordered = np.sort(values, axis=1)
    n = ordered.shape[1]
    idx = np.arange(n, dtype=np.float64)
    runs = run_duration_s(idx, ordered) + 1.0  # length of the run of equal values ending here
    runs = np.where(np.isfinite(ordered), runs, 0.0)
    best = np.argmax(runs, axis=1)
    mode = ordered[np.arange(ordered.shape[0]), best]
    count = np.maximum(nan_count(values), 1)
    return mode, runs[np.arange(ordered.shape[0]), best] / count


def _profile_at(
    times: FloatArray,
    origin: FloatArray,
    cell_s: float,
    profile: FloatArray,
    is_hist: BoolArray,
    per_day: int,
) -> FloatArray:
    """The daily profile at each sample's exact time, interpolated linearly between cells.

    A cell's profile value stands for where its history samples sit inside it (the start for
    hourly data on the hour), so hourly samples read their own cell and 5-minute samples a blend
    of neighbours instead of a step.
    """
    if per_day <= 0:
        return np.zeros(times.shape)
    pos = (times - origin[:, None]) / cell_s
    frac = np.where(is_hist, pos - np.floor(pos), np.nan)
    anchor = np.nan_to_num(nan_median(frac), nan=0.0)
    u = pos - anchor[:, None]
    base = np.floor(np.nan_to_num(u, nan=0.0))
    weight = np.nan_to_num(u, nan=0.0) - base
    left = np.mod(base, per_day).astype(np.int64)
    right = np.mod(left + 1, per_day)
    p_left = np.take_along_axis(profile, left, axis=1)
    p_right = np.take_along_axis(profile, right, axis=1)
    return np.asarray(p_left + weight * (p_right - p_left), dtype=np.float64)
