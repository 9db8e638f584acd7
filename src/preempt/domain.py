"""Plain types and facts shared by every module: metrics, units, locations, samples."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

# Open-Meteo hourly/current variables Preempt knows how to monitor, with their units
# (Open-Meteo defaults: °C, %, mm, km/h) and the physically possible range of a reading.
METRIC_UNITS: Final[dict[str, str]] = {
    "temperature_2m": "°C",
    "relative_humidity_2m": "%",
    "precipitation": "mm",
    "wind_speed_10m": "km/h",
    "dew_point_2m": "°C",
    "wind_gusts_10m": "km/h",
    "pressure_msl": "hPa",
    "surface_pressure": "hPa",
    "cloud_cover": "%",
    "rain": "mm",
    "snowfall": "cm",
    "apparent_temperature": "°C",
}

PHYSICAL_RANGES: Final[dict[str, tuple[float, float]]] = {
    "temperature_2m": (-95.0, 65.0),
    "relative_humidity_2m": (0.0, 100.0),
    "precipitation": (0.0, 500.0),
    "wind_speed_10m": (0.0, 500.0),
    "dew_point_2m": (-100.0, 40.0),
    "wind_gusts_10m": (0.0, 600.0),
    "pressure_msl": (850.0, 1090.0),
    "surface_pressure": (400.0, 1090.0),
    "cloud_cover": (0.0, 100.0),
    "rain": (0.0, 500.0),
    "snowfall": (0.0, 200.0),
    "apparent_temperature": (-110.0, 80.0),
}

KNOWN_METRICS: Final[frozenset[str]] = frozenset(METRIC_UNITS)

DEFAULT_MONITORED_FIELDS: Final[tuple[str, ...]] = (
    "temperature_2m",
    "relative_humidity_2m",
    "precipitation",
    "wind_speed_10m",
    "dew_point_2m",
)

# Human names for descriptions ("Wind above 62 km/h in Lisbon").
METRIC_LABELS: Final[dict[str, str]] = {
    "temperature_2m": "Temperature",
    "relative_humidity_2m": "Humidity",
    "precipitation": "Precipitation",
    "wind_speed_10m": "Wind",
    "dew_point_2m": "Dew point",
    "wind_gusts_10m": "Wind gusts",
    "pressure_msl": "Pressure",
    "surface_pressure": "Surface pressure",
    "cloud_cover": "Cloud cover",
    "rain": "Rain",
    "snowfall": "Snowfall",
    "apparent_temperature": "Feels-like temperature",
}


def is_physical(metric_type: str, value: float) -> bool:
    """True when value is a possible reading of metric_type (unknown metrics: any finite value)."""
    low, high = PHYSICAL_RANGES.get(metric_type, (float("-inf"), float("inf")))
    return low <= value <= high


@dataclass(frozen=True, slots=True)
class Location:
    id: int
    name: str
    latitude: float
    longitude: float
    country_code: str = ""
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class NewLocation:
    """A location row before it has an id (CSV import, API create)."""

    name: str
    latitude: float
    longitude: float
    country_code: str = ""
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading: `timestamp` is a naive UTC datetime (storage convention)."""

    location_id: int
    metric_type: str
    timestamp: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One flagged sample, as stored: one per (location, metric, timestamp)."""

    location_id: int
    metric_type: str
    timestamp: datetime
    value: float
    score: float  # combined, in [0, 1]; higher = more anomalous
    severity: str  # low | medium | high
    methods: tuple[str, ...]  # which methods flagged it: seasonal, classic, iforest, rule
    explanation: str
    z_score: float | None = None
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A proposed alarm threshold: one live suggestion per (location, metric, direction)."""

    location_id: int
    metric_type: str
    direction: str  # above | below
    operator: str  # > | >= | < | <=
    threshold: float
    confidence: float  # in [0, 1], from the backtest
    description: str
    anomaly_count: int
    caught: int = 0
    missed: int = 0
    false_fires: int = 0
    fires_per_week: float = 0.0
    percentile: float | None = None
    persistence_k: int = 1
    persistence_n: int = 1
