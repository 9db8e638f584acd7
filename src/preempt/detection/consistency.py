"""Cross-metric consistency: temperature, dew point and relative humidity of one place are tied by
the Magnus formula, so a sensor fault in one of them breaks the relation long before the faulty
value looks unusual on its own (a 2 °C offset is weather; a 2 °C offset against the humidity is
not). The residual RH - RH(T, Td) is scored like any robust residual, and the flag goes to the
metric whose replacement by the value the other two imply best explains its own change since the
relation last held (a reading frozen meanwhile is the prime suspect); when no metric clearly
explains it better than the others, nothing is flagged rather than a healthy sensor.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from preempt.detection.robust import (
    MAD_TO_SIGMA,
    BoolArray,
    FloatArray,
    nan_mad,
    nan_median,
    run_duration_s,
)

BETA: Final[float] = 17.625
LAMBDA_C: Final[float] = 243.04
TRIPLE: Final[tuple[str, str, str]] = ("temperature_2m", "dew_point_2m", "relative_humidity_2m")
MIN_RH_SCALE: Final[float] = 1.0
SMOOTH_SAMPLES: Final[int] = 24  # percent: rounding of published values stays below this
BREAK_SAMPLES: Final[int] = 1  # the sample after a break shows who jumped; later ones add weather
SATURATED_RH: Final[float] = 99.5  # percent: published humidity rounds to 100 in fog
FROZEN_SAMPLES: Final[int] = 3  # identical readings in a row that make a row the suspect
FROZEN_BONUS: Final[float] = 100.0  # robust units: outweighs any gain from the other two rows
# blame only when one row explains the break clearly better than the runner-up (robust units):
# a wrong culprit is a false alarm on a healthy sensor and a miss on the faulty one
BLAME_MARGIN: Final[float] = 0.5


def magnus_triples(
    metric_types: Sequence[str], groups: Sequence[Hashable]
) -> npt.NDArray[np.int64]:
    """Row indices (G, 3) of temperature, dew point and humidity sharing a group (location)."""
    where: dict[Hashable, dict[str, int]] = {}
    for row, (metric, group) in enumerate(zip(metric_types, groups, strict=True)):
        if metric in TRIPLE:
            where.setdefault(group, {})[metric] = row
    rows = [[found[m] for m in TRIPLE] for found in where.values() if len(found) == 3]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def humidity_from(temperature: FloatArray, dew_point: FloatArray) -> FloatArray:
    """Relative humidity (%) from temperature and dew point (°C), Magnus formula."""
    gamma_d = BETA * dew_point / (LAMBDA_C + dew_point)
    gamma_t = BETA * temperature / (LAMBDA_C + temperature)
    return np.asarray(100.0 * np.exp(gamma_d - gamma_t), dtype=np.float64)


def consistency_ratio(
    values: FloatArray,
    residual: FloatArray,
    scale: FloatArray,
    is_hist: BoolArray,
    triples: npt.NDArray[np.int64],
    magnus: tuple[FloatArray, FloatArray],
    *,
    threshold: float,
) -> FloatArray:
    """|z| of the Magnus residual / threshold, on the row it is attributed to (S, n); else 0.

    residual: each row's value minus its seasonal expectation; scale: each row's robust scale;
    magnus: magnus_error_z of the same rows.
    """
    out = np.zeros(values.shape, dtype=np.float64)
    if triples.size == 0:
        return out
    t, td, rh = (values[triples[:, k]] for k in range(3))
    error, z = magnus
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ln_rh = np.log(np.clip(rh, 1.0, 100.0) / 100.0)
        a = BETA * td / (LAMBDA_C + td) - ln_rh
        b = ln_rh + BETA * t / (LAMBDA_C + t)
        implied = [t - LAMBDA_C * a / (BETA - a), td - LAMBDA_C * b / (BETA - b), error]
    hist = is_hist[triples[:, 2]]
    anchor = _last_consistent(z, saturated=rh >= SATURATED_RH)
    gains = []
    for k in range(3):
        rows = triples[:, k]
        d = implied[k] - np.nan_to_num(nan_median(np.where(hist, implied[k], np.nan)), nan=0.0)[
            :, None
        ]
        # deviation since the relation last held: weather that moved all three together
        # (a warm spell) before the break must not decide who broke it
        r = residual[rows]
        r = r - np.where(anchor >= 0, np.take_along_axis(r, np.maximum(anchor, 0), axis=1), 0.0)
        gains.append((np.abs(r) - np.abs(r - d)) / scale[rows][:, None])
    stacked = np.nan_to_num(np.stack(gains), nan=0.0)
    # a reading frozen while the relation broke is the prime suspect (a stuck sensor)
    steps = np.broadcast_to(np.arange(values.shape[1], dtype=np.float64), values.shape)
    frozen = np.stack([run_duration_s(steps[rows], values[rows]) >= FROZEN_SAMPLES - 1
                       for rows in triples.T])
    frozen[2] &= rh < 100.0  # saturated air rests at 100 % for hours
    # the row that jumped when the relation broke is the culprit for as long as it stays broken
    # (later weather of a healthy row must not take the blame over); a gradual break (a drift)
    # shows no clear jump, so then the gains since the break decide, at most the last
    # SMOOTH_SAMPLES: a fault persists, one sample's noise does not
    at_break, clear = _culprit(_mean_after(stacked, anchor, BREAK_SAMPLES), frozen)
    since, explains = _culprit(_mean_since(stacked, anchor, SMOOTH_SAMPLES), frozen)
    blamed = np.where(clear, at_break, since)
    explains |= clear
    ratio = np.nan_to_num(np.abs(z) / threshold, nan=0.0)
    for k in range(3):
        out[triples[:, k]] = np.where((blamed == k) & explains, ratio, 0.0)
    return out


def humidity_explained(
    shape: tuple[int, ...], triples: npt.NDArray[np.int64], z: FloatArray, *, calm: float
) -> BoolArray:
    """(S, n): True on humidity rows where the Magnus relation holds (|z| < calm, z from
    magnus_error_z), i.e. the humidity is what its temperature and dew point imply. Its swings
    are then weather that those two rows show in their own units; a humidity sensor fault
    breaks the relation."""
    out = np.zeros(shape, dtype=bool)
    if triples.size:
        out[triples[:, 2]] = np.abs(np.nan_to_num(z, nan=np.inf)) < calm
    return out


def magnus_error_z(
    values: FloatArray, is_hist: BoolArray, triples: npt.NDArray[np.int64]
) -> tuple[FloatArray, FloatArray]:
    """Per triple (G, n): the error RH - RH(T, Td) and its robust z against the history."""
    t, td, rh = (values[triples[:, k]] for k in range(3))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        error = rh - humidity_from(t, td)
    hist = is_hist[triples[:, 2]]
    centre = np.nan_to_num(nan_median(np.where(hist, error, np.nan)), nan=0.0)
    # the relation is exact up to rounding, so past faults in the window are the only tails:
    # a plain MAD (robust to half the window being faulty) with a floor, no tail widening
    e_scale = np.maximum(
        np.nan_to_num(nan_mad(np.where(hist, error, np.nan), centre), nan=0.0) * MAD_TO_SIGMA,
        MIN_RH_SCALE,
    )
    return error, (error - centre[:, None]) / e_scale[:, None]


def _culprit(gain: FloatArray, frozen: BoolArray) -> tuple[npt.NDArray[np.int64], BoolArray]:
    """Per sample (G, n): the row (0-2) whose replacement by the value the other two imply
    removes most of its own deviation from normal, and whether it does so clearly better than
    the runner-up; gain (3, G, n) in robust units, a frozen reading weighing most."""
    gain = np.where(frozen, gain + FROZEN_BONUS, gain)
    ranked = np.sort(gain, axis=0)
    explains = (ranked[-1] > 0) & (ranked[-1] - ranked[-2] >= BLAME_MARGIN)
    return np.argmax(gain, axis=0), explains


def _mean_after(values: FloatArray, anchor: npt.NDArray[np.int64], width: int) -> FloatArray:
    """Mean over the first `width` samples after `anchor`, or those up to each sample when
    fewer have passed (causal); values (K, G, n), anchor (G, n)."""
    n = values.shape[-1]
    csum = np.concatenate([np.zeros((*values.shape[:-1], 1)), np.cumsum(values, axis=-1)], -1)
    idx = np.arange(n)
    first = np.clip(anchor + 1, 0, idx)
    last = np.minimum(first + width - 1, idx)
    total = (np.take_along_axis(csum, np.broadcast_to(last + 1, values.shape), -1)
             - np.take_along_axis(csum, np.broadcast_to(first, values.shape), -1))
    return np.asarray(total / (last - first + 1), dtype=np.float64)


def _mean_since(values: FloatArray, anchor: npt.NDArray[np.int64], width: int) -> FloatArray:
    """Mean over the samples after `anchor` up to each one, at most the last `width` (causal);
    values (K, G, n), anchor (G, n)."""
    n = values.shape[-1]
    csum = np.concatenate([np.zeros((*values.shape[:-1], 1)), np.cumsum(values, axis=-1)], -1)
    idx = np.arange(n)
    first = np.clip(np.maximum(anchor + 1, idx - width + 1), 0, idx)  # at least the sample
    total = csum[..., 1:] - np.take_along_axis(csum, np.broadcast_to(first, values.shape), -1)
    return np.asarray(total / (idx - first + 1), dtype=np.float64)


def _last_consistent(
    z: FloatArray, saturated: BoolArray, calm: float = 2.0
) -> npt.NDArray[np.int64]:
    """Index of the latest sample at or before each one where the relation held (|z| < calm),
    -1 where there is none yet (causal). A saturated humidity reading (100 %) agrees with any
    humid temperature and dew point, so it shows that a break has ended only when the relation
    held without it: while the relation is broken, saturated samples keep the break open (a
    humidity fault pinned at 100 % does not pass for healed)."""
    n = z.shape[-1]
    idx = np.arange(n)
    ok = np.abs(np.nan_to_num(z, nan=np.inf)) < calm
    last_good = np.maximum.accumulate(np.where(ok & ~saturated, idx, -1), axis=-1)
    last_bad = np.maximum.accumulate(np.where(~ok, idx, -1), axis=-1)
    held = ok & (last_good > last_bad)
    return np.asarray(np.maximum.accumulate(np.where(held, idx, -1), axis=-1), dtype=np.int64)
