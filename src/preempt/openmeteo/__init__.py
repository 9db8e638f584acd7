"""Open-Meteo: the forecast client used by collect, and (in `emulator`) a local emulator.

Public API:
- OpenMeteoClient(settings: OpenMeteoSettings, *, transport=None, clock=time.time,
  sleep=time.sleep, rng=None)
    .fetch_hourly(locations, metrics, *, past_hours, forecast_hours=1) -> FetchReport
    .fetch_current(locations, metrics) -> FetchReport
    .budget: CallBudget (.used(), .remaining(), .wait_s(w), .spend(w)); .breaker; .close()
  locations are (latitude, longitude) pairs; FetchReport.series[i] is a LocationSeries
  (times: epoch seconds UTC, values: metric -> float array, NaN = missing) or None if lost.
- BudgetExhausted, CircuitOpen (UpstreamError subclasses)
- locations_per_cycle(n, *, interval_s, weight_per_location, limits) -> int
- location_weight / request_weight: the server's call-weight formula.
"""

from preempt.openmeteo.budget import BudgetLimits, CallBudget, locations_per_cycle
from preempt.openmeteo.client import (
    SOURCE,
    BudgetExhausted,
    CircuitBreaker,
    CircuitOpen,
    Coordinates,
    FetchReport,
    OpenMeteoClient,
)
from preempt.openmeteo.parse import LocationSeries
from preempt.openmeteo.weights import location_weight, request_weight

__all__ = [
    "SOURCE",
    "BudgetExhausted",
    "BudgetLimits",
    "CallBudget",
    "CircuitBreaker",
    "CircuitOpen",
    "Coordinates",
    "FetchReport",
    "LocationSeries",
    "OpenMeteoClient",
    "location_weight",
    "locations_per_cycle",
    "request_weight",
]
