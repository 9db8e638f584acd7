"""The collect service against the emulator over HTTP, a real Redis stream and a migrated DB."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import numpy as np
import pytest
from sqlalchemy.engine import Engine

from preempt.config import Settings, load_settings
from preempt.domain import DEFAULT_MONITORED_FIELDS, NewLocation, Sample
from preempt.openmeteo import OpenMeteoClient
from preempt.openmeteo.emulator import (
    EmulatorConfig,
    EmulatorThread,
    FaultSettings,
    SimSettings,
)
from preempt.services.collect import Collector
from preempt.storage.locations import insert_locations, list_locations
from preempt.storage.metrics import write_samples
from preempt.streams import names
from preempt.streams.messages import WeatherBatch
from preempt.streams.redis_bus import RedisBus

pytestmark = pytest.mark.integration

NOW = 1_796_301_600.0  # 2026-12-03T12:40:00Z: the last full hour is 12:00


class FakeTime:
    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@pytest.fixture()
def bus(redis_url: str, redis_prefix: str) -> Iterator[RedisBus]:
    b = RedisBus.from_url(redis_url, prefix=redis_prefix)
    yield b
    b.close()


def settings_for(sim: EmulatorThread, **overrides: object) -> Settings:
    return load_settings(
        env={"OPEN_METEO_URL": sim.forecast_url},
        overrides={
            "openmeteo.batch_size": 100,
            "openmeteo.calls_per_minute": 1e6,
            "openmeteo.calls_per_hour": 1e6,
            "openmeteo.calls_per_day": 1e7,
            **overrides,
        },
    )


def seed_locations(engine: Engine, n: int) -> None:
    rng = np.random.default_rng(n)
    lats, lons = rng.uniform(-60, 70, n), rng.uniform(-180, 180, n)
    with engine.begin() as conn:
        insert_locations(
            conn,
            [
                NewLocation(f"City {i}", round(float(lats[i]), 4), round(float(lons[i]), 4))
                for i in range(n)
            ],
        )


def collector(settings: Settings, engine: Engine, bus: RedisBus, clock: FakeTime) -> Collector:
    client = OpenMeteoClient(settings.openmeteo, clock=clock, sleep=clock.sleep)
    return Collector(settings, engine=engine, bus=bus, client=client, clock=clock)


def published(bus: RedisBus) -> list[WeatherBatch]:
    return [WeatherBatch.decode(e.payload) for e in bus.entries(names.WEATHER_METRICS)]


def test_bootstrap_yields_exactly_7x24_hourly_samples_per_metric_then_current_values(
    sqlite_engine: Engine, bus: RedisBus
) -> None:
    clock = FakeTime()
    seed_locations(sqlite_engine, 300)
    with EmulatorThread(EmulatorConfig(rate_limit=False), clock=clock) as sim:
        c = collector(settings_for(sim), sqlite_engine, bus, clock)
        first = c.run_once()
        clock.now += 300
        second = c.run_once()
    batches = published(bus)
    history = [b for b in batches if b.kind == "history"]
    assert first.fetched["history"] == 300 and first.samples == 300 * 168 * 5
    assert len(history) == 300 and len({b.location_id for b in history}) == 300
    last_hour = int(NOW) // 3600 * 3600
    for b in history:
        assert b.times == list(range(last_hour - 167 * 3600, last_hour + 1, 3600))
        assert set(b.values) == set(DEFAULT_MONITORED_FIELDS)
        assert all(v is not None for col in b.values.values() for v in col)
    current = [b for b in batches if b.kind == "current"]
    assert second.fetched["current"] == 300 and len(current) == 300
    assert {tuple(b.times) for b in current} == {((int(NOW) + 300) // 900 * 900,)}
    # A 15-minute precipitation sum never joins the hourly sums of the same series.
    assert all("precipitation" not in b.values for b in current)
    assert "history 300/300" in first.line() and "calls 300" in first.line()


def test_accumulated_metrics_come_hourly_once_each_hour_is_complete(
    sqlite_engine: Engine, bus: RedisBus
) -> None:
    clock = FakeTime()
    seed_locations(sqlite_engine, 3)
    with EmulatorThread(EmulatorConfig(rate_limit=False), clock=clock) as sim:
        c = collector(settings_for(sim), sqlite_engine, bus, clock)
        for _ in range(5):  # 12:40, 12:55, 13:10, 13:25, 13:40
            c.run_once()
            clock.now += 900
    by_kind: dict[str, list[WeatherBatch]] = {}
    for b in published(bus):
        by_kind.setdefault(b.kind, []).append(b)
    assert {b.times[-1] for b in by_kind["backfill"]} == {int(NOW) // 3600 * 3600 + 3600}
    assert all("precipitation" in b.values for b in by_kind["backfill"])
    assert len(by_kind["current"]) == 3 * 3
    assert all("precipitation" not in b.values for b in by_kind["current"])


def test_a_downtime_gap_is_back_filled_without_holes(engine: Engine, bus: RedisBus) -> None:
    clock = FakeTime()
    seed_locations(engine, 30)
    newest = int(NOW) // 3600 * 3600 - 5 * 3600
    with engine.begin() as conn:
        ids = [loc.id for loc in list_locations(conn)]
        stamp = datetime.fromtimestamp(newest, UTC).replace(tzinfo=None)
        write_samples(conn, [Sample(i, "temperature_2m", stamp, 1.0) for i in ids])
    with EmulatorThread(EmulatorConfig(rate_limit=False), clock=clock) as sim:
        summary = collector(settings_for(sim), engine, bus, clock).run_once()
    batches = published(bus)
    assert summary.fetched["backfill"] == 30 and len(batches) == 30
    for b in batches:
        assert b.kind == "backfill"
        assert b.times == [newest + h * 3600 for h in range(1, 6)]


def test_two_collectors_at_once_do_not_double_fetch(sqlite_engine: Engine, bus: RedisBus) -> None:
    clock = FakeTime()
    seed_locations(sqlite_engine, 40)
    config = EmulatorConfig(rate_limit=False, faults=FaultSettings(share_slow=1.0, slow_s=0.4))
    with EmulatorThread(config, clock=clock) as sim:
        settings = settings_for(sim, **{"openmeteo.batch_size": 10})
        collectors = [collector(settings, sqlite_engine, bus, clock) for _ in range(2)]
        results: list[str] = []
        go = threading.Barrier(2)

        def run(c: Collector) -> None:
            go.wait()
            results.append(c.run_once().line())

        threads = [threading.Thread(target=run, args=(c,)) for c in collectors]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        served = httpx.get(f"{sim.base_url}/_sim/stats").json()["locations_served"]
    assert sum("another collector is running" in line for line in results) == 1
    assert served == 40
    assert len(published(bus)) == 40


def test_a_small_budget_spreads_locations_over_cycles_stalest_first(
    sqlite_engine: Engine, bus: RedisBus, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeTime()
    seed_locations(sqlite_engine, 50)
    with EmulatorThread(EmulatorConfig(rate_limit=False), clock=clock) as sim:
        settings = settings_for(
            sim, **{"openmeteo.calls_per_day": 2880, "openmeteo.calls_per_hour": 5000}
        )
        c = collector(settings, sqlite_engine, bus, clock)
        first = c.run_once()  # 2880/day at one cycle per 5 min: 10 locations per cycle
        clock.now += 300
        second = c.run_once()
    assert first.deferred == 40 and first.fetched["history"] == 10
    assert second.fetched["history"] == 10
    assert len({b.location_id for b in published(bus)}) == 20
    assert (
        "50 locations due every 300 s need about 14400 calls/day but the budget allows 2880/day"
    ) in caplog.text


def test_bad_locations_are_skipped_and_counted_the_rest_published(
    sqlite_engine: Engine, bus: RedisBus
) -> None:
    clock = FakeTime()
    seed_locations(sqlite_engine, 100)
    config = EmulatorConfig(
        rate_limit=False, sim=SimSettings(seed=9), faults=FaultSettings(share_bad_location=0.1)
    )
    with EmulatorThread(config, clock=clock) as sim:
        summary = collector(settings_for(sim), sqlite_engine, bus, clock).run_once()
        faults = httpx.get(f"{sim.base_url}/_sim/stats").json()["faults"]
    lost = faults.get("bad_location:not_an_object", 0)
    assert summary.errors["bad_location"] == lost
    assert summary.messages == 100 - lost


def test_every_keeps_a_steady_schedule_and_stops_after_max_cycles(
    sqlite_engine: Engine, bus: RedisBus
) -> None:
    clock = FakeTime()
    seed_locations(sqlite_engine, 5)
    waits: list[float] = []
    with EmulatorThread(EmulatorConfig(rate_limit=False), clock=clock) as sim:
        c = collector(settings_for(sim), sqlite_engine, bus, clock)

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            time.sleep(seconds)
            clock.now += 900  # the next cycle sees a new 15-minute step

        summaries = c.run(every_s=0.2, max_cycles=3, sleep=sleep)
    assert [s.fetched.total() for s in summaries] == [5, 5, 5]
    # 12:40 history, 12:55 current, 13:10: the 13:00 hour is complete, so hourly data.
    assert [sorted(s.fetched) for s in summaries] == [["history"], ["current"], ["backfill"]]
    assert len(waits) == 2 and all(0 <= w <= 0.2 for w in waits)
