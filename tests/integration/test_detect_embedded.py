"""Embedded mode (`preempt up`): detect and the ml-trainer as threads of one process on the
in-process stream bus and SQLite, same code path as distributed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from preempt.services import detect, ml_trainer
from preempt.streams import MemoryBus
from tests.integration.test_detect_support import (
    NOW_S,
    anomaly_rows,
    job_rows,
    make_settings,
    seed_locations,
    write_weather,
)

pytestmark = pytest.mark.integration


def test_detect_and_trainer_threads_on_the_memory_bus_and_sqlite(
    sqlite_url: str, sqlite_engine: Engine, tmp_path: Path
) -> None:
    settings = make_settings(database_url=sqlite_url, redis_url="redis://unused", redis_prefix="",
                             models_dir=tmp_path / "models")
    ids = seed_locations(sqlite_engine, 12)
    write_weather(sqlite_engine, ids, first_s=NOW_S - 7 * 86400, last_s=NOW_S)
    bus = MemoryBus()
    stop = threading.Event()
    trainer = threading.Thread(target=ml_trainer.run, args=(settings.ml,),
                               kwargs={"bus": bus, "engine": sqlite_engine, "stop": stop})
    trainer.start()
    try:
        totals = detect.run(settings, bus=bus, engine=sqlite_engine, once=True)
    finally:
        stop.set()
        trainer.join(30)
    assert totals.cycles == 1 and "ML on" in totals.summaries[0]
    assert [j.ml for j in job_rows(sqlite_engine)] == ["on"]  # 12 locations: one job
    rows = anomaly_rows(sqlite_engine)
    assert rows
    again = detect.run(settings, bus=bus, engine=sqlite_engine, once=True)
    assert again.cycles == 1 and anomaly_rows(sqlite_engine) == rows
