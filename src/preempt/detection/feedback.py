"""Feedback: anomalies a person marked as false positives suppress similar flags later.

Similar = same location and metric, flagged on the same side (above or below what was expected),
hour of day within `hour_window_h`, and not more extreme than the marked value by more than
`margin` (in the metric's unit): "32 °C at 15:00 is normal here" silences 31-33 °C afternoons,
not 40 °C. The side is the sign of the flag's z when known: a flag raised by the long baseline
(a shift) can sit right at the short-term expectation, where value - expected says nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from preempt.detection.grid import hour_of_day
from preempt.detection.robust import BoolArray, FloatArray


@dataclass(frozen=True, slots=True)
class FalsePositive:
    """A flag a person rejected: the series (row key), its value, expected value and hour, and
    the sign of its z (above +1, below -1) when known."""

    series_key: str
    value: float
    expected: float
    hour_utc: float
    side: float | None = None


def similar_to_false_positives(
    series_keys: Sequence[str],
    times_s: FloatArray,
    values: FloatArray,
    expected: FloatArray,
    false_positives: Sequence[FalsePositive],
    *,
    hour_window_h: float = 2.0,
    margin: float | FloatArray = 0.0,
    sides: FloatArray | None = None,
) -> BoolArray:
    """Mask (S, n) of samples that match a false positive of their series (vectorised per FP).

    sides: the side each sample would be flagged on (the sign of its z, (S, n)); by default the
    sign of value - expected."""
    vals = np.atleast_2d(np.asarray(values, dtype=np.float64))
    times = np.broadcast_to(np.asarray(times_s, dtype=np.float64), vals.shape)
    hours = hour_of_day(times)
    margins = np.broadcast_to(np.asarray(margin, dtype=np.float64), (vals.shape[0],))[:, None]
    keys = np.asarray(series_keys, dtype=object)
    out = np.zeros(vals.shape, dtype=bool)
    side = np.sign(vals - expected) if sides is None else np.sign(sides)
    for fp in false_positives:
        rows = keys == fp.series_key
        if not rows.any():
            continue
        fp_side = np.sign(fp.value - fp.expected) if fp.side is None else np.sign(fp.side)
        gap = np.abs(hours - fp.hour_utc)
        near_hour = np.minimum(gap, 24.0 - gap) <= hour_window_h
        not_beyond = (vals - fp.value) * fp_side <= margins
        out |= rows[:, None] & near_hour & (side == fp_side) & not_beyond & (fp_side != 0)
    return out


def suppress(is_anomaly: BoolArray, similar: BoolArray) -> BoolArray:
    """Flags that remain once the samples similar to false positives are dropped."""
    return np.asarray(is_anomaly & ~similar, dtype=bool)
