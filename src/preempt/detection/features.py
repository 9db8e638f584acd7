"""Engineered per-sample features for the Isolation Forest, from the seasonal fit of the batch.

value, short and long robust residual (z), change from the previous sample in robust units,
hour of day as sin/cos, and the stuck-run ratio: the forest then isolates combinations that no
single threshold sees (a normal value at an abnormal hour, a jump that stays within range).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from preempt.detection.grid import hour_of_day
from preempt.detection.robust import FloatArray
from preempt.detection.seasonal import SeasonalFit

FEATURE_NAMES: Final[tuple[str, ...]] = (
    "value",
    "z_short",
    "z_long",
    "change_z",
    "hour_sin",
    "hour_cos",
    "stuck_ratio",
)


def build_features(times: FloatArray, values: FloatArray, fit: SeasonalFit) -> FloatArray:
    """Features (S, n, len(FEATURE_NAMES)); NaN rows where the value is missing."""
    previous = _previous_valid(values)
    change = (values - previous) / fit.scale_short[:, None]
    angle = hour_of_day(times) * (2.0 * np.pi / 24.0)
    stacked = np.stack(
        [
            values,
            np.clip(fit.z_short, -1e3, 1e3),
            np.clip(fit.z_long, -1e3, 1e3),
            np.clip(change, -1e3, 1e3),
            np.sin(angle),
            np.cos(angle),
            np.minimum(fit.stuck_ratio, 10.0),
        ],
        axis=2,
    )
    return np.where(np.isfinite(values)[:, :, None], stacked, np.nan)


def _previous_valid(values: FloatArray) -> FloatArray:
    """The last finite value before each sample in its row (NaN when there is none)."""
    n = values.shape[1]
    idx = np.where(np.isfinite(values), np.arange(n), -1)
    last = np.maximum.accumulate(idx, axis=1)
    prev = np.concatenate([np.full((values.shape[0], 1), -1), last[:, :-1]], axis=1)
    out = np.take_along_axis(values, np.maximum(prev, 0), axis=1)
    return np.where(prev >= 0, out, np.nan)
