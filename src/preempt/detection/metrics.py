"""Per-metric facts detection needs: the smallest deviation worth calling unusual (scale floor),
the values a reading rests on naturally, and the range it can physically take.

After a dry week any rain would otherwise be "infinitely" unusual; after a calm week any breeze.
A floor in the metric's unit keeps the robust scale at a size a person would notice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from preempt.detection.robust import FloatArray

DEFAULT_MIN_SCALE: Final[dict[str, float]] = {
    "temperature_2m": 0.5,
    "apparent_temperature": 0.7,
    "dew_point_2m": 0.5,
    "relative_humidity_2m": 3.0,
    "precipitation": 2.0,  # at 6 robust units: a dry week makes 12 mm an hour unusual, not 9
    "rain": 1.5,
    "snowfall": 1.0,
    "wind_speed_10m": 3.0,
    "wind_gusts_10m": 5.0,
    "pressure_msl": 0.5,
    "surface_pressure": 0.5,
    "cloud_cover": 10.0,
}


# Values a reading rests on naturally for hours (no rain, calm, saturated air, clear sky).
DEFAULT_PLATEAUS: Final[dict[str, float]] = {
    "precipitation": 0.0,
    "rain": 0.0,
    "snowfall": 0.0,
    "wind_speed_10m": 0.0,
    "wind_gusts_10m": 0.0,
    "relative_humidity_2m": 100.0,
    "cloud_cover": 100.0,
}


# Metrics whose only unusual side is "more": rain falls in showers, so an hour drier than its
# baseline is weather, never a fault; a baseline lifted by a past fault must not flag dry hours.
DEFAULT_UPWARD_ONLY: Final[frozenset[str]] = frozenset({"precipitation", "rain", "snowfall"})


def upward_only_for(metric_types: Sequence[str]) -> npt.NDArray[np.bool_]:
    """Per series: True where only values above the baseline can be unusual."""
    return np.asarray([m in DEFAULT_UPWARD_ONLY for m in metric_types], dtype=bool)


def plateau_for(metric_types: Sequence[str]) -> FloatArray:
    """Natural plateau value per series (NaN for none): runs at it are not a stuck sensor."""
    return np.asarray([DEFAULT_PLATEAUS.get(m, np.nan) for m in metric_types], dtype=np.float64)


def min_scale_for(
    metric_types: Sequence[str], table: dict[str, float] | None = None
) -> FloatArray:
    """Scale floor per series from its metric type (0 for metrics not in the table)."""
    floors = DEFAULT_MIN_SCALE if table is None else table
    return np.asarray([floors.get(m, 0.0) for m in metric_types], dtype=np.float64)


# What a reading can physically be: an expected band never reaches beyond it (no "usual range
# 80-104 %" humidity, no -3 mm rain). Metrics not listed are unbounded.
PHYSICAL_RANGE: Final[dict[str, tuple[float, float]]] = {
    "relative_humidity_2m": (0.0, 100.0),
    "cloud_cover": (0.0, 100.0),
    "precipitation": (0.0, np.inf),
    "rain": (0.0, np.inf),
    "snowfall": (0.0, np.inf),
    "wind_speed_10m": (0.0, np.inf),
    "wind_gusts_10m": (0.0, np.inf),
    "pressure_msl": (0.0, np.inf),
    "surface_pressure": (0.0, np.inf),
}


def clip_to_physical(
    metric_types: Sequence[str], *bands: FloatArray
) -> tuple[FloatArray, ...]:
    """Each (S, n) array clipped row by row to its metric's physical range (NaN stays NaN)."""
    low = np.asarray([PHYSICAL_RANGE.get(m, (-np.inf, np.inf))[0] for m in metric_types])
    high = np.asarray([PHYSICAL_RANGE.get(m, (-np.inf, np.inf))[1] for m in metric_types])
    return tuple(np.clip(b, low[:, None], high[:, None]) for b in bands)
