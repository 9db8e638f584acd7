"""Alarm rules, their evaluation state and transitions (plain frozen types), with the defaults
(hysteresis per metric) and quiet-hours arithmetic the evaluator and the service share.

States: ok → pending (breaching, waiting out the rule's for-duration) → firing → resolved
(was firing, value back past threshold ∓ hysteresis). `resolved` behaves like `ok` afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

State = Literal["ok", "pending", "firing", "resolved"]
STATES: Final[tuple[str, ...]] = ("ok", "pending", "firing", "resolved")
OPERATORS: Final[tuple[str, ...]] = (">", ">=", "<", "<=")
SEVERITIES: Final[tuple[str, ...]] = ("low", "medium", "high")
# Transitions into these states are notified; ok ↔ pending are only recorded.
NOTIFY_STATES: Final[frozenset[str]] = frozenset({"firing", "resolved"})

# How far a firing value must come back past its threshold before the alarm resolves, when a
# rule does not say: about the noise of one reading in each unit.
_HYSTERESIS_BY_UNIT: Final[dict[str, float]] = {
    "°C": 0.5, "%": 2.0, "mm": 0.2, "km/h": 2.0, "hPa": 1.0, "cm": 0.5,
}
_HYSTERESIS_BY_METRIC: Final[dict[str, str]] = {
    "temperature_2m": "°C", "dew_point_2m": "°C", "apparent_temperature": "°C",
    "relative_humidity_2m": "%", "cloud_cover": "%", "precipitation": "mm", "rain": "mm",
    "wind_speed_10m": "km/h", "wind_gusts_10m": "km/h", "pressure_msl": "hPa",
    "surface_pressure": "hPa", "snowfall": "cm",
}

_QUIET = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def is_upward(operator: str) -> bool:
    """True for > and >= (fires above the threshold)."""
    return operator in (">", ">=")


def default_hysteresis(metric_type: str, threshold: float) -> float:
    """The resolve margin for a rule that sets none: one reading's noise in the metric's unit,
    at most 10 % of |threshold| when that is larger than zero."""
    unit = _HYSTERESIS_BY_METRIC.get(metric_type)
    base = _HYSTERESIS_BY_UNIT.get(unit, 0.0) if unit else 0.0
    cap = abs(threshold) * 0.1
    return min(base, cap) if cap > 0 else base


@dataclass(frozen=True, slots=True)
class AlarmRule:
    """What the evaluator needs of a rule: fire when `value <operator> threshold` has held for
    `for_s` seconds (of sample time); resolve when the value is back past the threshold by
    `hysteresis` (in the metric's unit)."""

    id: int
    location_id: int
    metric_type: str
    operator: str
    threshold: float
    hysteresis: float = 0.0
    for_s: float = 0.0
    severity: str = "medium"

    def __post_init__(self) -> None:
        if self.operator not in OPERATORS:
            raise ValueError(f"rule {self.id}: unknown operator {self.operator!r}")
        if self.hysteresis < 0 or self.for_s < 0:
            raise ValueError(f"rule {self.id}: hysteresis and for_s must not be negative")


@dataclass(frozen=True, slots=True)
class RuleState:
    """Where a rule stands: its state since `changed_at`, when the current breach began
    (pending/firing), and the newest sample it has judged (older samples are ignored)."""

    rule_id: int
    state: str = "ok"
    changed_at: datetime | None = None
    breach_since: datetime | None = None
    last_sample_at: datetime | None = None
    last_value: float | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change of one rule, caused by the sample at `at` (naive UTC) with `value`."""

    rule_id: int
    from_state: str
    to_state: str
    at: datetime
    value: float
    threshold: float

    @property
    def is_notified(self) -> bool:
        return self.to_state in NOTIFY_STATES


def parse_quiet_hours(spec: str) -> tuple[time, time]:
    """(start, end) local times from 'HH:MM-HH:MM'; the window may wrap midnight, and one that
    starts and ends at the same time is empty."""
    match = _QUIET.match(spec.strip())
    if not match:
        raise ValueError(f"quiet hours must look like 22:00-07:00, got {spec!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return time(h1, m1), time(h2, m2)


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, UTC when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_hours_end(spec: str | None, at: datetime, tz_name: str = "UTC") -> datetime | None:
    """When `at` (UTC; naive means UTC) falls in the quiet hours `spec` of a location in
    `tz_name`, the UTC moment they end; otherwise (or without quiet hours) None."""
    if not spec:
        return None
    start, end = parse_quiet_hours(spec)
    if start == end:
        return None
    tz = zone(tz_name)
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    local = aware.astimezone(tz)
    now_t = local.time()
    wraps = start > end
    quiet = (now_t >= start or now_t < end) if wraps else (start <= now_t < end)
    if not quiet:
        return None
    end_day = local.date()
    if wraps and now_t >= start:
        end_day += timedelta(days=1)
    local_end = datetime.combine(end_day, end, tzinfo=tz)
    return local_end.astimezone(UTC)
