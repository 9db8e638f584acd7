"""The client's budget: server-like counters, clock-boundary resets, cadence planning."""

from __future__ import annotations

from preempt.openmeteo.budget import BudgetLimits, CallBudget, locations_per_cycle


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_counters_reset_on_clock_boundaries() -> None:
    clock = Clock(1_800_000_000.0 + 30)  # 30 s into a minute
    budget = CallBudget(BudgetLimits(per_minute=10, per_hour=25, per_day=100), clock)
    assert budget.wait_s(50) == 0.0  # an empty counter admits an oversized request
    budget.spend(8)
    assert budget.wait_s(2) == 0.0
    assert budget.wait_s(3) == 30.0  # until the next minute
    clock.now += 30
    assert budget.used() == {"minute": 0.0, "hour": 8.0, "day": 8.0}
    budget.spend(10)
    clock.now += 60
    budget.spend(6)
    assert budget.remaining() == {"minute": 4.0, "hour": 1.0, "day": 76.0}
    assert budget.wait_s(2) == 3600 - (clock.now % 3600)


def test_locations_per_cycle_fits_the_free_tier() -> None:
    free = BudgetLimits()
    # 892 cities every 5 minutes need 256,896 calls a day: only 34 per cycle fit 10,000/day.
    assert locations_per_cycle(892, interval_s=300, weight_per_location=1, limits=free) == 34
    assert locations_per_cycle(20, interval_s=300, weight_per_location=1, limits=free) == 20
    paid = BudgetLimits(per_minute=1e9, per_hour=1e9, per_day=1e9)
    assert locations_per_cycle(10_000, interval_s=300, weight_per_location=1, limits=paid) == 10_000
