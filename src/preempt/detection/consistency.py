"""Cross-metric consistency: temperature, dew point and relative humidity of one place are tied by
the Magnus formula, so a sensor fault in one of them breaks the relation long before the faulty
value looks unusual on its own (a 2 °C offset is weather; a 2 °C offset against the humidity is
not). The residual RH - RH(T, Td) is scored like any robust residual, and the flag goes to the
metric whose replacement by the value the other two imply best explains its own deviation.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from preempt.detection.robust import MAD_TO_SIGMA, BoolArray, FloatArray, nan_mad, nan_median

BETA: Final[float] = 17.625
LAMBDA_C: Final[float] = 243.04
TRIPLE: Final[tuple[str, str, str]] = ("temperature_2m", "dew_point_2m", "relative_humidity_2m")
MIN_RH_SCALE: Final[float] = 1.0
SMOOTH_SAMPLES: Final[int] = 24  # percent: rounding of published values stays below this


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
    *,
    threshold: float,
) -> FloatArray:
    """|z| of the Magnus residual / threshold, on the row it is attributed to (S, n); else 0.

    residual: each row's value minus its seasonal expectation; scale: each row's robust scale.
    """
    out = np.zeros(values.shape, dtype=np.float64)
    if triples.size == 0:
        return out
    t, td, rh = (values[triples[:, k]] for k in range(3))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        error = rh - humidity_from(t, td)
        ln_rh = np.log(np.clip(rh, 1.0, 100.0) / 100.0)
        a = BETA * td / (LAMBDA_C + td) - ln_rh
        b = ln_rh + BETA * t / (LAMBDA_C + t)
        implied = [t - LAMBDA_C * a / (BETA - a), td - LAMBDA_C * b / (BETA - b), error]
    hist = is_hist[triples[:, 2]]
    centre = np.nan_to_num(nan_median(np.where(hist, error, np.nan)), nan=0.0)
    # the relation is exact up to rounding, so past faults in the window are the only tails:
    # a plain MAD (robust to half the window being faulty) with a floor, no tail widening
    e_scale = np.maximum(
        np.nan_to_num(nan_mad(np.where(hist, error, np.nan), centre), nan=0.0) * MAD_TO_SIGMA,
        MIN_RH_SCALE,
    )
    z = (error - centre[:, None]) / e_scale[:, None]
    gains = []
    for k in range(3):
        rows = triples[:, k]
        d = implied[k] - np.nan_to_num(nan_median(np.where(hist, implied[k], np.nan)), nan=0.0)[
            :, None
        ]
        r = residual[rows]
        gains.append((np.abs(r) - np.abs(r - d)) / scale[rows][:, None])
    # a fault persists: blame on the gains of the last few samples, not one sample's noise
    gain = _trailing_mean(np.nan_to_num(np.stack(gains), nan=0.0), SMOOTH_SAMPLES)
    # the culprit: the metric whose replacement by the value the other two imply removes most of
    # its own deviation from normal
    blamed = np.argmax(gain, axis=0)
    explains = np.max(gain, axis=0) > 0
    ratio = np.nan_to_num(np.abs(z) / threshold, nan=0.0)
    for k in range(3):
        out[triples[:, k]] = np.where((blamed == k) & explains, ratio, 0.0)
    return out


def _trailing_mean(values: FloatArray, width: int) -> FloatArray:
    """Mean of each sample and the width - 1 before it along the last axis (causal)."""
    csum = np.cumsum(values, axis=-1)
    shifted = np.concatenate(
        [np.zeros((*values.shape[:-1], width)), csum[..., :-width]], axis=-1
    )[..., : values.shape[-1]]
    count = np.minimum(np.arange(1, values.shape[-1] + 1), width)
    return np.asarray((csum - shifted) / count, dtype=np.float64)
