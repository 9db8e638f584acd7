"""Record check: a value beyond everything the series has shown over a long record (a year or
more) is news however slowly it arrived. A heat wave that builds over days, such as 41.6 °C in
Beijing, moves the seasonal baseline with it and is never sudden, but it is the hottest hour in
years; the seasonal method, which looks back two weeks, cannot know that.

The record (highest and lowest value, and how long a time it covers) is kept by the caller:
`detect_causal` carries it forward from all samples before each block; a live caller passes
what it stores, or nothing (then the check does not run).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from preempt.detection.robust import FloatArray

YEAR_S = 365.25 * 86400.0


@dataclass(frozen=True, slots=True)
class Records:
    """Per series (S,): highest and lowest value seen before the split and the seconds between
    the first of those samples and the split (NaN/0 where nothing was seen)."""

    high: FloatArray
    low: FloatArray
    span_s: FloatArray


def records_before(times: FloatArray, values: FloatArray, starts: FloatArray) -> Records:
    """Records of every series (S, n on the shared axis `times` (n,)) before each start (B,),
    as (S * B) rows in series-major order (the row layout of detect_causal)."""
    finite = np.isfinite(values)
    high = np.maximum.accumulate(np.where(finite, values, -np.inf), axis=1)
    low = np.minimum.accumulate(np.where(finite, values, np.inf), axis=1)
    first_idx = np.argmax(finite, axis=1)
    first_t = np.where(finite.any(axis=1), times[first_idx], np.nan)
    before = np.searchsorted(times, starts, side="left") - 1  # last sample before each start
    take = np.maximum(before, 0)
    seen = before >= 0
    hi = np.where(seen[None, :], high[:, take], -np.inf)
    lo = np.where(seen[None, :], low[:, take], np.inf)
    span = np.where(seen[None, :], starts[None, :] - first_t[:, None], 0.0)
    return Records(hi.reshape(-1), lo.reshape(-1), np.nan_to_num(span, nan=0.0).reshape(-1))


def record_ratio(
    values: FloatArray, records: Records, scale: FloatArray, *, min_span_s: float = YEAR_S
) -> FloatArray:
    """1 at a new record (value strictly beyond the record), growing by one per robust `scale`
    beyond it; 0 elsewhere and for records shorter than `min_span_s` (in the first year every
    warm spell is a record). values (S, n); records and scale per series (S,)."""
    long_enough = (records.span_s >= min_span_s)[:, None]
    size = np.maximum(scale, 1e-9)[:, None]
    with np.errstate(invalid="ignore"):
        above = np.where(values > records.high[:, None],
                         1.0 + (values - records.high[:, None]) / size, 0.0)
        below = np.where(values < records.low[:, None],
                         1.0 + (records.low[:, None] - values) / size, 0.0)
    ratio = np.where(long_enough, np.fmax(above, below), 0.0)
    return np.asarray(np.nan_to_num(ratio, nan=0.0, posinf=0.0), dtype=np.float64)
