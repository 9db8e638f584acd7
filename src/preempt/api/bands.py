"""Expected value and band per sample for charts, from the detection core (never recomputed here).

The core fits the whole window it is given; GET /metrics?bands=true gives it BAND_HISTORY more
than it returns so that a 24-hour chart gets a baseline of a week.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Final

import numpy as np

BAND_HISTORY: Final = timedelta(days=7)

Band = tuple[float | None, float | None, float | None]


def _finite(x: float) -> float | None:
    return round(x, 4) if math.isfinite(x) else None


def expected_bands(
    metric_type: str, times: Sequence[str], values: Sequence[float]
) -> list[Band] | None:
    """(expected, lower, upper) per sample at ISO 8601 UTC `times` (None where the core has no
    baseline yet)."""
    if not times:
        return []
    from preempt.detection import bands  # scikit-learn & co. load on the first chart, not at start

    stamps = np.array([t[:19] for t in times], dtype="datetime64[s]")
    times_s = stamps.astype(np.int64).astype(np.float64)
    vals = np.array(values, dtype=np.float64)
    expected, lower, upper = bands(times_s[None, :], vals[None, :], metric_types=[metric_type])
    return [
        (_finite(float(e)), _finite(float(lo)), _finite(float(hi)))
        for e, lo, hi in zip(expected[0], lower[0], upper[0], strict=True)
    ]
