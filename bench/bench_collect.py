"""Collect against the emulator: 7-day bootstrap and current-values cycles; prints JSON figures.

For 892 (data/locations.csv) and 10,000 locations: a bootstrap cycle (168 hourly samples x 5
metrics per location into the stream), and a current-values cycle for locations whose newest
stored sample is the previous 15-minute step, with a paid-tier budget (no minute/hour limits) so
that the figures show the code, not the free tier's pacing. The emulator runs as its own process
(`preempt openmeteo-sim`), as a real server would. The
stream is Redis (REDIS_HOST/PREEMPT_REDIS_URL, default 127.0.0.1:6379, own key prefix, deleted
afterwards), or the in-process bus when Redis does not answer. Usage: bench_collect.py [--quick]
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import redis

from preempt.config import load_settings
from preempt.domain import NewLocation, Sample
from preempt.locations_csv import parse_locations_csv
from preempt.openmeteo import BudgetLimits, OpenMeteoClient, locations_per_cycle
from preempt.openmeteo.emulator.server import free_port
from preempt.services.collect import Collector, CycleSummary
from preempt.storage import migrate
from preempt.storage.engine import create_engine_for
from preempt.storage.locations import insert_locations, list_locations
from preempt.storage.metrics import write_samples
from preempt.streams import StreamBus, names
from preempt.streams.memory_bus import MemoryBus
from preempt.streams.redis_bus import RedisBus

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def emulator() -> Iterator[str]:
    """`preempt openmeteo-sim` in a subprocess; yields its forecast URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "preempt", "openmeteo-sim", "--port", str(port), "--no-rate-limit"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1/forecast"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/_sim/stats", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("emulator did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def make_locations(n: int) -> list[NewLocation]:
    csv = parse_locations_csv((ROOT / "data" / "locations.csv").read_text(encoding="utf-8"))
    cities = list(csv.locations)[:n]
    rng = np.random.default_rng(7)
    for i in range(len(cities), n):
        cities.append(
            NewLocation(
                f"Synthetic {i}",
                round(float(rng.uniform(-60, 70)), 4),
                round(float(rng.uniform(-180, 180)), 4),
            )
        )
    return cities


def open_bus(prefix: str) -> tuple[StreamBus, str]:
    url = os.environ.get("PREEMPT_REDIS_URL") or (
        f"redis://{os.environ.get('REDIS_HOST', '127.0.0.1')}:"
        f"{os.environ.get('REDIS_PORT', '6379')}/0"
    )
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        return MemoryBus(prefix=prefix), "in-process"
    return RedisBus.from_url(url, prefix=prefix), "redis"


def run_cycle(
    url: str, workdir: Path, locations: list[NewLocation], *, previous_quarter: bool
) -> tuple[CycleSummary, float, str, int]:
    """One collect cycle into a fresh database (optionally holding one sample per location at
    the previous 15-minute step, which makes the cycle a current-values one)."""
    engine = create_engine_for(f"sqlite:///{workdir / secrets.token_hex(4)}.db")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        insert_locations(conn, locations)
        if previous_quarter:
            stamp = datetime.fromtimestamp(time.time() // 900 * 900 - 900, UTC)
            write_samples(
                conn,
                [
                    Sample(loc.id, "temperature_2m", stamp.replace(tzinfo=None), 10.0)
                    for loc in list_locations(conn)
                ],
            )
    bus, bus_kind = open_bus(f"bench_collect_{secrets.token_hex(4)}:")
    settings = load_settings(
        env={"OPEN_METEO_URL": url},
        overrides={
            "openmeteo.batch_size": 1000,
            "openmeteo.calls_per_minute": 1e9,
            "openmeteo.calls_per_hour": 1e9,
            "openmeteo.calls_per_day": 1e9,
        },
    )
    client = OpenMeteoClient(settings.openmeteo)
    collector = Collector(settings, engine=engine, bus=bus, client=client)
    try:
        started = time.perf_counter()
        summary = collector.run_once()
        wall_s = time.perf_counter() - started
        entries = bus.length(names.WEATHER_METRICS)
    finally:
        bus.delete(names.WEATHER_METRICS)
        bus.close()
        client.close()
        engine.dispose()
    return summary, wall_s, bus_kind, entries


def bench(n: int, url: str, workdir: Path) -> dict[str, object]:
    locations = make_locations(n)
    boot, boot_s, bus_kind, boot_entries = run_cycle(
        url, workdir, locations, previous_quarter=False
    )
    current, current_s, _, _ = run_cycle(url, workdir, locations, previous_quarter=True)
    free = BudgetLimits()
    per_cycle = locations_per_cycle(n, interval_s=300, weight_per_location=1, limits=free)
    return {
        "locations": n,
        "stream": bus_kind,
        "bootstrap": {
            "wall_s": round(boot_s, 2),
            "samples": boot.samples,
            "samples_per_s": round(boot.samples / boot_s),
            "stream_entries": boot_entries,
            "calls_used": boot.calls,
            "requests": boot.requests,
            "errors": dict(boot.errors),
        },
        "current_cycle": {
            "wall_s": round(current_s, 2),
            "locations_fetched": current.fetched["current"],
            "samples": current.samples,
            "calls_used": current.calls,
            "requests": current.requests,
            "errors": dict(current.errors),
        },
        "free_tier": {
            "locations_per_5min_cycle": per_cycle,
            "minutes_between_visits": round(n / per_cycle * 5),
        },
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    sizes = [892] if "--quick" in sys.argv else [892, 10_000]
    results = []
    with tempfile.TemporaryDirectory() as tmp, emulator() as url:
        for n in sizes:
            results.append(bench(n, url, Path(tmp)))
    print(json.dumps({"bench": "collect", "results": results}, indent=2))


if __name__ == "__main__":
    main()
