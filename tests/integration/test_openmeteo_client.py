"""The client against the emulator over real HTTP: batching, budget, faults, partial results."""

from __future__ import annotations

import random
import threading

import httpx
import numpy as np
import pytest

from preempt.config import OpenMeteoSettings
from preempt.domain import DEFAULT_MONITORED_FIELDS
from preempt.openmeteo import OpenMeteoClient
from preempt.openmeteo.emulator import (
    EmulatorConfig,
    EmulatorThread,
    FaultSettings,
    RateLimits,
    SimSettings,
)
from preempt.simulation import AnomalyConfig

pytestmark = pytest.mark.integration

METRICS = list(DEFAULT_MONITORED_FIELDS)
NOW = 1_796_300_000.0


class FakeTime:
    """One clock for the emulator and the client; the client's sleeps move it forward."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.slept = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
            self.slept += seconds


def locations(n: int, seed: int = 1) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    return list(
        zip(
            rng.uniform(-60, 70, n).round(4).tolist(),
            rng.uniform(-180, 180, n).round(4).tolist(),
            strict=True,
        )
    )


def client_for(server: EmulatorThread, clock: FakeTime, **overrides: object) -> OpenMeteoClient:
    settings = OpenMeteoSettings.model_validate(
        {"url": server.forecast_url, "backoff_base_s": 0.2, **overrides}
    )
    return OpenMeteoClient(settings, clock=clock, sleep=clock.sleep, rng=random.Random(1))


def test_batched_calls_return_locations_in_order() -> None:
    clock = FakeTime()
    with EmulatorThread(EmulatorConfig(rate_limit=False), clock=clock) as server:
        where = locations(25)
        with client_for(server, clock, batch_size=7, max_url_chars=400) as client:
            batched = client.fetch_hourly(where, METRICS, past_hours=23)
        assert batched.requests == 4 and batched.fetched == 25 and not batched.errors
        with client_for(server, clock, batch_size=1) as client:
            for i in (0, 6, 7, 24):
                one = client.fetch_hourly([where[i]], METRICS, past_hours=23).series[0]
                got = batched.series[i]
                assert one is not None and got is not None
                np.testing.assert_array_equal(got.times, one.times)
                for metric in METRICS:
                    np.testing.assert_array_equal(got.values[metric], one.values[metric])
        first = batched.series[0]
        assert first is not None and len(first) == 24
        assert first.times[-1] == NOW // 3600 * 3600 and np.all(np.diff(first.times) == 3600)


def test_a_429_storm_is_ridden_out_within_the_budget() -> None:
    clock = FakeTime(NOW - NOW % 60 + 1)
    limits = RateLimits(per_minute=40, per_hour=400, per_day=1000)
    config = EmulatorConfig(
        rate_limit=True, limits=limits, sim=SimSettings(seed=2), faults=FaultSettings(share_429=0.4)
    )
    with EmulatorThread(config, clock=clock) as server:
        with client_for(
            server,
            clock,
            batch_size=10,
            max_retries=12,
            calls_per_minute=40,
            calls_per_hour=400,
            calls_per_day=1000,
            max_wait_s=120,
        ) as client:
            report = client.fetch_current(locations(120), METRICS)
        stats = httpx.get(f"{server.base_url}/_sim/stats").json()
    assert report.fetched == 120
    assert report.errors["http_429"] == stats["faults"]["429"] > 0
    assert stats["rate_limited"] == 0  # paced: never ran into the server's own limits
    assert report.calls_used == stats["weight_served"] == 120
    assert clock.slept >= 110  # 120 calls at 40/minute need two minute boundaries


def test_a_malformed_location_loses_only_that_location() -> None:
    clock = FakeTime()
    config = EmulatorConfig(rate_limit=False, faults=FaultSettings(share_bad_location=0.1))
    with EmulatorThread(config, clock=clock) as server:
        with client_for(server, clock, batch_size=50) as client:
            report = client.fetch_hourly(locations(200), METRICS, past_hours=5)
        faults = httpx.get(f"{server.base_url}/_sim/stats").json()["faults"]
    whole = faults.get("bad_location:not_an_object", 0)
    partial = sum(
        faults.get(f"bad_location:{k}", 0) for k in ("missing_variable", "short_array", "bad_value")
    )
    assert whole + partial > 0
    assert report.fetched == 200 - whole
    assert report.errors["bad_location"] == whole
    assert report.errors["missing_variable"] + report.errors["bad_variable"] == partial
    complete = [s for s in report.series if s is not None and len(s.values) == len(METRICS)]
    assert len(complete) == 200 - whole - partial


def test_malformed_bodies_resets_and_5xx_are_retried() -> None:
    clock = FakeTime()
    faults = FaultSettings(share_malformed=0.2, share_reset=0.2, share_503=0.2)
    config = EmulatorConfig(rate_limit=False, faults=faults, sim=SimSettings(seed=4))
    with EmulatorThread(config, clock=clock) as server:  # noqa: SIM117
        with client_for(server, clock, batch_size=5, max_retries=10, breaker_failures=50) as client:
            report = client.fetch_current(locations(100), METRICS)
    assert report.fetched == 100
    assert report.errors["malformed_body"] > 0
    assert report.errors["connection"] > 0
    assert report.errors["http_503"] > 0


def test_repeated_failures_open_the_circuit_and_keep_nothing_half_done() -> None:
    clock = FakeTime()
    config = EmulatorConfig(rate_limit=False, faults=FaultSettings(share_503=1.0))
    with EmulatorThread(config, clock=clock) as server:  # noqa: SIM117
        with client_for(
            server, clock, batch_size=10, max_retries=2, breaker_failures=3, breaker_pause_s=60
        ) as client:
            report = client.fetch_current(locations(50), METRICS)
            assert client.breaker.is_open
    assert report.stopped_by == "circuit"
    assert report.fetched == 0
    assert report.requests == 3 and report.errors["http_503"] == 3
    assert report.errors["circuit_skipped_locations"] == 50 - 10


def test_timeouts_back_off_then_succeed() -> None:
    clock = FakeTime()
    config = EmulatorConfig(rate_limit=False, faults=FaultSettings(share_slow=0.5, slow_s=1.0))
    with EmulatorThread(config, clock=clock) as server:  # noqa: SIM117
        with client_for(
            server, clock, batch_size=10, timeout_s=0.3, max_retries=8, breaker_failures=20
        ) as client:
            report = client.fetch_current(locations(40), METRICS)
    assert report.fetched == 40
    assert report.errors["timeout"] > 0


def test_nulls_become_nan_and_are_counted() -> None:
    clock = FakeTime()
    anomalies = AnomalyConfig(rate_per_day=2.0, kinds=("dropout",))
    config = EmulatorConfig(rate_limit=False, sim=SimSettings(anomalies=anomalies))
    with (
        EmulatorThread(config, clock=clock) as server,
        client_for(server, clock, batch_size=100) as client,
    ):
        report = client.fetch_hourly(locations(20), METRICS, past_hours=47)
    nans = sum(int(np.isnan(v).sum()) for s in report.series if s for v in s.values.values())
    assert nans > 0 and report.errors["null_values"] == nans
    assert report.fetched == 20


def test_a_used_up_daily_budget_stops_the_fetch_with_a_clear_reason() -> None:
    clock = FakeTime()
    with EmulatorThread(EmulatorConfig(rate_limit=False), clock=clock) as server:  # noqa: SIM117
        with client_for(server, clock, batch_size=10, calls_per_day=25, max_wait_s=60) as client:
            report = client.fetch_current(locations(40), METRICS)
            assert client.budget.used()["day"] == 20
            again = client.fetch_current(locations(10), METRICS)
    assert again.fetched == 0 and again.requests == 0
    assert again.stop_reason is not None and "day 20/25); next call in" in again.stop_reason
    assert report.fetched == 20  # a third batch of 10 would pass the daily 25
    assert report.stopped_by == "budget"
    assert report.errors["budget_skipped_locations"] == 20
