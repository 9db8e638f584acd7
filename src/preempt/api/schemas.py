"""Response and request bodies of the REST API (pydantic): what /openapi.json publishes.

Shapes follow SEED.md: a list comes as {"<things>": [...], "count": N}; times are ISO 8601 UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Every metric Preempt knows (domain.METRIC_UNITS); a test keeps the two in step.
MetricName = Literal[
    "temperature_2m", "relative_humidity_2m", "precipitation", "wind_speed_10m", "dew_point_2m",
    "wind_gusts_10m", "pressure_msl", "surface_pressure", "cloud_cover", "rain", "snowfall",
    "apparent_temperature",
]
Severity = Literal["low", "medium", "high"]
AnomalyStatus = Literal["new", "false_positive", "confirmed"]
SuggestionStatus = Literal["open", "accepted", "dismissed"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class FieldError(_Out):
    field: str = Field(description="Where: 'query.hours', 'body.latitude', 'path.name'.")
    message: str


class ErrorBody(_Out):
    """Every 4xx/5xx answer: a one-line `detail`, and per field errors on 422."""

    detail: str
    errors: list[FieldError] = []


# --- locations -------------------------------------------------------------------------------


class LocationOut(_Out):
    id: int
    name: str
    latitude: float
    longitude: float
    country_code: str = ""
    timezone: str = "UTC"


class LocationList(_Out):
    locations: list[LocationOut]
    count: int


# A name: printable characters (no control characters), at least one that is not a space.
NAME_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"


def _no_surrogates(value: str, what: str) -> str:
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise ValueError(f"{what} must be valid Unicode text (lone surrogate)")
    return value


def _one_line(value: str) -> str:
    """Free text stored as one line: control characters become spaces."""
    return "".join(" " if ord(ch) < 32 or ord(ch) == 0x7F else ch for ch in value).strip()


class LocationIn(BaseModel):
    """A location to create or the new fields of one to replace."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    country_code: str = Field(default="", pattern=r"^([A-Za-z]{2})?$")
    timezone: str = Field(default="UTC", min_length=1, max_length=64,
                          pattern=r"^[A-Za-z0-9_+\-/]+$")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _no_surrogates(value, "name").strip()


class LocationDeleted(_Out):
    name: str
    data: Literal["kept", "deleted"]
    deleted_rows: dict[str, int]


# --- metrics ---------------------------------------------------------------------------------


class Point(_Out):
    timestamp: datetime
    value: float
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None


class Series(_Out):
    unit: str
    count: int
    data: list[Point]


class MetricsOut(_Out):
    location: str
    hours: float = Field(description="Length of the window in hours (until - since).")
    since: datetime
    until: datetime
    bands: bool = Field(description="Whether expected/lower/upper were computed.")
    count: int = Field(description="Points over all metrics.")
    metrics: dict[str, Series] = Field(description="Metric type -> its series, oldest first.")


# --- anomalies -------------------------------------------------------------------------------


class Feedback(_Out):
    by: str
    at: datetime
    note: str | None = None


class AnomalyOut(_Out):
    id: int
    location: str
    location_id: int
    metric_type: str
    unit: str
    timestamp: datetime
    value: float
    expected: float | None
    lower: float | None
    upper: float | None
    z_score: float | None
    score: float = Field(description="Combined score in [0, 1]; higher = more anomalous.")
    severity: str
    methods: list[str]
    explanation: str
    status: str = Field(description="new | false_positive | confirmed")
    feedback: Feedback | None
    detected_at: datetime
    updated_at: datetime


class AnomalyList(_Out):
    location: str
    count: int
    anomalies: list[AnomalyOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page.")


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: AnomalyStatus = Field(
        description="false_positive or confirmed; 'new' clears an earlier verdict."
    )
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        return None if value is None else _one_line(_no_surrogates(value, "note")) or None


# --- suggestions -----------------------------------------------------------------------------


class Backtest(_Out):
    """How the threshold did over the stored history."""

    caught: int = Field(description="Anomalies the alarm would have fired on.")
    missed: int
    false_fires: int = Field(description="Fires on samples that were not anomalies.")
    fires_per_week: float
    percentile: float | None
    persistence_k: int = Field(description="Fires when k of the last n samples cross.")
    persistence_n: int


class Decision(_Out):
    by: str
    at: datetime
    reason: str | None = None


class SuggestionOut(_Out):
    id: int
    location: str
    location_id: int
    metric_type: str
    unit: str
    direction: str = Field(description="above | below")
    operator: str
    threshold: float
    confidence: float
    description: str
    anomaly_count: int
    backtest: Backtest
    status: str = Field(description="open | accepted | dismissed")
    decision: Decision | None
    suggested_at: datetime
    updated_at: datetime


class SuggestionList(_Out):
    location: str
    count: int
    suggestions: list[SuggestionOut]
    next_cursor: str | None


class DismissIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000,
                        description="Why: shown to others and kept with the suggestion.")

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return _one_line(_no_surrogates(value, "reason")) or "(no reason given)"


# --- overview --------------------------------------------------------------------------------


class SeverityCounts(_Out):
    low: int
    medium: int
    high: int
    total: int


class LocationOverview(_Out):
    id: int
    name: str
    latitude: float
    longitude: float
    anomalies: SeverityCounts
    worst: Severity | None = Field(description="Highest severity seen in the window.")
    latest_at: datetime | None


class Overview(_Out):
    since: datetime
    until: datetime
    count: int
    locations: list[LocationOverview]


# --- health ----------------------------------------------------------------------------------


class DependencyHealth(_Out):
    status: Literal["ok", "down", "not_configured"]
    latency_ms: float | None = None
    detail: str | None = None


class ServiceHealth(_Out):
    service: str
    instance: str
    status: str
    beat_at: datetime
    age_s: float
    info: dict[str, object]


class StreamHealth(_Out):
    stream: str
    length: int
    group: str
    pending: int | None
    lag: int | None = Field(description="Entries not yet delivered to the group.")


class Health(_Out):
    status: Literal["healthy", "unhealthy"]
    time: datetime
    source: str = Field(description="'simulated' when the weather comes from the emulator.")
    version: str
    uptime_s: float
    dependencies: dict[str, DependencyHealth]
    services: list[ServiceHealth]
    streams: list[StreamHealth]
