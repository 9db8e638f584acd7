"""The client's call budget: the server's weighted minute/hour/day counters mirrored locally, so
calls are paced to stay inside the limits instead of running into 429s (OPEN_METEO.md §6).

Counters reset on clock boundaries (minute, hour, 00:00 UTC) like the server's. A request may
go when, for every period, its weight fits in what is left, or the counter is empty (the server
admits a request when the counter is below the limit before it, so one oversized request per
period passes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

_PERIODS: tuple[tuple[str, int], ...] = (("minute", 60), ("hour", 3600), ("day", 86400))


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    per_minute: float = 600.0
    per_hour: float = 5000.0
    per_day: float = 10000.0

    def of(self, period: str) -> float:
        return {"minute": self.per_minute, "hour": self.per_hour, "day": self.per_day}[period]


class CallBudget:
    """Weighted counters per period; `clock` returns epoch seconds (passed in for tests)."""

    def __init__(self, limits: BudgetLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._counts: dict[str, tuple[int, float]] = {}
        self.spent_total = 0.0

    def used(self) -> dict[str, float]:
        now = self._clock()
        out: dict[str, float] = {}
        for period, length in _PERIODS:
            pid, count = self._counts.get(period, (-1, 0.0))
            out[period] = count if pid == int(now // length) else 0.0
        return out

    def remaining(self) -> dict[str, float]:
        used = self.used()
        return {p: max(0.0, self.limits.of(p) - used[p]) for p, _ in _PERIODS}

    def wait_s(self, weight: float) -> float:
        """Seconds until a request of `weight` may be sent (0 = now)."""
        now = self._clock()
        used = self.used()
        wait = 0.0
        for period, length in _PERIODS:
            count = used[period]
            if count > 0 and count + weight > self.limits.of(period):
                wait = max(wait, (math.floor(now / length) + 1) * length - now)
        return wait

    def spend(self, weight: float) -> None:
        now = self._clock()
        used = self.used()
        for period, length in _PERIODS:
            self._counts[period] = (int(now // length), used[period] + weight)
        self.spent_total += weight


def locations_per_cycle(
    n_locations: int, *, interval_s: float, weight_per_location: float, limits: BudgetLimits
) -> int:
    """How many locations one cycle may fetch so that the cadence fits every limit."""
    if n_locations <= 0:
        return 0
    fits = float(n_locations)
    for period, length in _PERIODS:
        cycles = max(1.0, length / interval_s)
        fits = min(fits, limits.of(period) / cycles / weight_per_location)
    return max(1, min(n_locations, math.floor(fits)))
