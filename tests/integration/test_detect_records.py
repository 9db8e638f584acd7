"""The record check in the live detect service: records kept with the watermark, built the first
time from every stored sample, so a slow heat build-up past a year's record is flagged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from preempt.services import detect
from preempt.storage.metrics import SampleColumns, write_columns
from preempt.streams import MemoryBus
from tests.integration.test_detect_support import (
    HOUR_S,
    NOW_S,
    anomaly_rows,
    make_settings,
    seed_locations,
    state_rows,
)

pytestmark = pytest.mark.integration

DAY_S = 86400.0


def _write(engine: Engine, location_id: int, times: np.ndarray, values: np.ndarray) -> None:
    stamps = [datetime.fromtimestamp(int(t), UTC).replace(tzinfo=None) for t in times]
    with engine.begin() as conn:
        write_columns(conn, [SampleColumns(location_id, stamps,
                                           {"temperature_2m": [float(v) for v in values]})])


def test_a_slow_rise_past_a_years_record_is_flagged_and_the_record_is_kept(
    sqlite_url: str, sqlite_engine: Engine, tmp_path: Path
) -> None:
    settings = make_settings(database_url=sqlite_url, redis_url="redis://unused",
                             redis_prefix="", models_dir=tmp_path / "models",
                             **{"detect.method": "seasonal"})
    (loc,) = seed_locations(sqlite_engine, 1)
    # A year ago: the record, 24 °C and -6 °C, far older than any window detect loads.
    year_ago = NOW_S - 400 * DAY_S
    _write(sqlite_engine, loc, np.array([year_ago, year_ago + HOUR_S]), np.array([24.0, -6.0]))
    # The last 16 days: a diurnal cycle between 6 and 18 °C, then a slow rise over the last
    # day that ends 2.5 °C above the record, 0.5 °C per hour at most: nothing sudden.
    times = np.arange(NOW_S - 16 * DAY_S, NOW_S + 1, HOUR_S)
    rng = np.random.default_rng(5)
    values = 12 + 6 * np.sin(2 * np.pi * times / DAY_S) + rng.normal(0, 0.4, times.size)
    rise = np.clip((times - (NOW_S - DAY_S)) / DAY_S, 0, 1)
    values = values + rise * (26.5 - values)
    _write(sqlite_engine, loc, times, values)

    detect.run(settings, bus=MemoryBus(), engine=sqlite_engine, once=True)

    flagged = [(ts, methods) for _, _, metric, ts, methods, _ in anomaly_rows(sqlite_engine)
               if metric == "temperature_2m"]
    by_record = [ts for ts, methods in flagged if "record" in methods]
    assert by_record, flagged
    newest = max(by_record).replace(tzinfo=UTC).timestamp()
    assert newest > NOW_S - 6 * HOUR_S  # the hours past 24 °C, at the end of the rise
    (state,) = [r for r in state_rows(sqlite_engine) if r.metric_type == "temperature_2m"]
    assert state.record_high == pytest.approx(float(values.max()))
    assert state.record_low == -6.0
    assert state.record_since.replace(tzinfo=UTC).timestamp() == year_ago
