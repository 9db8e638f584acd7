"""Time axes of a batch: broadcasting, sampling interval, and the regular cell grid baselines use.

Input convention of the whole package: `times_s` is epoch seconds (UTC), either one shared axis
of shape (n,) or one axis per series of shape (S, n), ascending per row; `values` is (S, n) with
NaN for a missing reading (and NaN times for padding of ragged rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from preempt.detection.robust import FloatArray, IntArray, nan_median

DAY_S = 86400.0
HOUR_S = 3600.0


def as_batch(times_s: FloatArray, values: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(times (S, n), values (S, n)) as float64, a shared (n,) time axis broadcast to all rows."""
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim == 1:
        vals = vals[None, :]
    if vals.ndim != 2:
        raise ValueError(f"values must be 2-D (series x time), got shape {vals.shape}")
    times = np.asarray(times_s, dtype=np.float64)
    if times.ndim == 1:
        if times.shape[0] != vals.shape[1]:
            raise ValueError(f"{times.shape[0]} times for {vals.shape[1]} values per series")
        times = np.broadcast_to(times, vals.shape)
    elif times.shape != vals.shape:
        raise ValueError(f"times shape {times.shape} does not match values shape {vals.shape}")
    return times, vals


def infer_interval_s(times_s: FloatArray) -> FloatArray:
    """Typical sampling interval per row (median positive step); NaN for rows with < 2 times."""
    t = np.atleast_2d(np.asarray(times_s, dtype=np.float64))
    steps = np.diff(t, axis=-1)
    steps = np.where(steps > 0, steps, np.nan)
    if steps.shape[-1] == 0:
        return np.full(t.shape[0], np.nan)
    return nan_median(steps)


@dataclass(frozen=True, slots=True)
class CellGrid:
    """Samples of each row averaged into cells of `cell_s` seconds starting at `origin_s` (S,).

    `means` is (S, n_cells) (NaN for an empty cell); `cell` is each sample's cell index (S, n),
    -1 for samples outside the grid or missing.
    """

    origin_s: FloatArray
    cell_s: float
    means: FloatArray
    cell: IntArray


def build_grid(
    times: FloatArray, values: FloatArray, *, origin_s: FloatArray, cell_s: float, n_cells: int
) -> CellGrid:
    """Average every finite sample into its cell; one bincount for the whole batch."""
    n_series = values.shape[0]
    cell = np.floor((times - origin_s[:, None]) / cell_s)
    inside = np.isfinite(cell) & (cell >= 0) & (cell < n_cells)
    cell_i = np.where(inside, cell, -1).astype(np.int64)
    ok = inside & np.isfinite(values)
    flat = (np.arange(n_series, dtype=np.int64)[:, None] * n_cells + cell_i)[ok]
    size = n_series * n_cells
    sums = np.bincount(flat, weights=values[ok], minlength=size)
    counts = np.bincount(flat, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return CellGrid(origin_s, cell_s, means.reshape(n_series, n_cells), cell_i)


def cell_values(grid_rows: FloatArray, cell: IntArray) -> FloatArray:
    """Look up a per-cell quantity (S, n_cells) for each sample (S, n); NaN where cell == -1."""
    safe = np.maximum(cell, 0)
    out = np.take_along_axis(grid_rows, safe, axis=1)
    return np.where(cell >= 0, out, np.nan)


def hour_of_day(times: FloatArray) -> FloatArray:
    """UTC hour of day as a float in [0, 24)."""
    return np.asarray(np.mod(times, DAY_S) / HOUR_S, dtype=np.float64)
