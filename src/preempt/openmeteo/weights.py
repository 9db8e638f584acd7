"""Call weights exactly as the Open-Meteo server counts them; shared by the client's budget and
the emulator's rate limiter so both sides agree on what a request costs.

Per location: w = max(1, V/10, V/10 * D/14), where V = variables (hourly + minutely_15 +
current + daily) × models and D = whole days in the location's time range. A request costs
the sum over its locations; a failed request costs 1.
"""

from __future__ import annotations

ERROR_WEIGHT = 1.0


def location_weight(n_variables: int, days: int, *, n_models: int = 1) -> float:
    """Weight of one location of a request (never below 1)."""
    v = n_variables * max(1, n_models)
    return max(1.0, v / 10.0, v / 10.0 * days / 14.0)


def request_weight(n_locations: int, n_variables: int, days: int, *, n_models: int = 1) -> float:
    """Weight of a request whose locations all share the same variables and time range."""
    return n_locations * location_weight(n_variables, days, n_models=n_models)
