"""Shared pieces of the detect and ml-trainer tests: settings on the test database and Redis
prefix, locations with 7 days of simulated hourly weather (with injected anomalies), and
readers of what detect wrote. (No tests here.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from preempt.config import Settings, load_settings
from preempt.domain import NewLocation
from preempt.simulation import AnomalyConfig, simulate_with_anomalies
from preempt.storage.locations import insert_locations, list_locations
from preempt.storage.metrics import SampleColumns, write_columns
from preempt.storage.tables import anomalies, detect_cycle_jobs, detect_state

HOUR_S = 3600
METRICS = ("temperature_2m", "relative_humidity_2m", "precipitation", "wind_speed_10m",
           "dew_point_2m")
NOW_S = float(int(datetime.now(UTC).timestamp()) // HOUR_S * HOUR_S)


def make_settings(
    *, database_url: str, redis_url: str, redis_prefix: str, models_dir: Path,
    **overrides: Any,
) -> Settings:
    env = {"PREEMPT_DATABASE_URL": database_url, "PREEMPT_REDIS_URL": redis_url,
           "PREEMPT_REDIS_PREFIX": redis_prefix, "PREEMPT_MODELS_DIR": str(models_dir)}
    base = {"detect.ml_timeout_s": 20.0, "detect.block_s": 0.2, "ml.block_s": 0.2,
            "detect.claim_idle_s": 2.0, "ml.claim_idle_s": 1.0, "ml.bucket_locations": 10,
            "detect.batch_locations": 10, "detect.initial_judge_s": 2 * 86400.0}
    base.update(overrides)
    return load_settings(Path("config.yaml"), env=env, overrides=base)


def seed_locations(engine: Engine, count: int) -> list[int]:
    rng = np.random.default_rng(7)
    lats = rng.uniform(-50, 60, count)
    lons = rng.uniform(-170, 170, count)
    with engine.begin() as conn:
        insert_locations(conn, [NewLocation(f"Town {i:04d}", float(lats[i]), float(lons[i]))
                                for i in range(count)])
        return [loc.id for loc in list_locations(conn)]


def write_weather(
    engine: Engine, location_ids: list[int], *, first_s: float, last_s: float, seed: int = 3,
    rate_per_day: float = 0.3,
) -> list[Any]:
    """Hourly weather for [first_s, last_s] with injected anomalies; returns the labels."""
    with engine.connect() as conn:
        locs = {loc.id: loc for loc in list_locations(conn)}
    lat = np.array([locs[i].latitude for i in location_ids])
    lon = np.array([locs[i].longitude for i in location_ids])
    times = np.arange(first_s, last_s + 1, HOUR_S).astype(np.int64)
    inj = simulate_with_anomalies(lat, lon, times, seed=seed,
                                  config=AnomalyConfig(rate_per_day=rate_per_day))
    stamps = [datetime.fromtimestamp(int(t), UTC).replace(tzinfo=None) for t in times]
    cols = [
        SampleColumns(loc, stamps, {m: [None if not np.isfinite(v) else float(v)
                                        for v in inj.values[m][i]] for m in METRICS})
        for i, loc in enumerate(location_ids)
    ]
    with engine.begin() as conn:
        write_columns(conn, cols)
    return list(inj.labels)


def anomaly_rows(engine: Engine) -> list[tuple[Any, ...]]:
    c = anomalies.c
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(c.id, c.location_id, c.metric_type, c.timestamp, c.methods, c.score)
            .order_by(c.id))]


def job_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(detect_cycle_jobs).order_by(
            detect_cycle_jobs.c.cycle_id, detect_cycle_jobs.c.job_no)))


def state_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(detect_state)))
