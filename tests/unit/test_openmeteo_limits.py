"""Emulator limits: server-like counters, the concurrency queue and seeded fault draws."""

from __future__ import annotations

import asyncio

import pytest

from preempt.openmeteo.emulator.limits import (
    DAY_LIMIT_REASON,
    HOUR_LIMIT_REASON,
    ConcurrencyGate,
    FaultDice,
    FaultSettings,
    RateLimiter,
    RateLimits,
    TooManyConcurrent,
)


def test_the_most_severe_limit_is_reported_and_counters_reset_on_boundaries() -> None:
    now = [1_800_000_000.0]
    limiter = RateLimiter(RateLimits(per_minute=5, per_hour=8, per_day=20), lambda: now[0])
    limiter.add("a", 8)
    assert limiter.check("a") == HOUR_LIMIT_REASON
    assert limiter.check("b") is None
    now[0] += 3600
    assert limiter.check("a") is None
    limiter.add("a", 12)
    assert limiter.check("a") == DAY_LIMIT_REASON
    assert limiter.usage("a") == {"minute": 12.0, "hour": 12.0, "day": 20.0}


def test_the_queue_admits_one_at_a_time_then_refuses() -> None:
    async def scenario() -> list[str]:
        gate = ConcurrencyGate(queue=1)
        order: list[str] = []

        async def call(name: str) -> None:
            try:
                async with gate.slot("ip"):
                    order.append(f"start {name}")
                    await asyncio.sleep(0.05)
            except TooManyConcurrent:
                order.append(f"refused {name}")

        await asyncio.gather(call("a"), call("b"), call("c"))
        return order

    assert asyncio.run(scenario()) == ["start a", "refused c", "start b"]


def test_fault_draws_follow_the_shares_and_the_seed() -> None:
    dice = FaultDice(FaultSettings(share_429=0.3, share_503=0.2), seed=1)
    draws = [dice.request_fault() for _ in range(5000)]
    assert draws.count("429") / 5000 == pytest.approx(0.3, abs=0.03)
    assert draws.count("503") / 5000 == pytest.approx(0.2, abs=0.03)
    again = FaultDice(FaultSettings(share_429=0.3, share_503=0.2), seed=1)
    assert [again.request_fault() for _ in range(5000)] == draws
    assert FaultDice(FaultSettings(), seed=1).bad_locations(100) == []
