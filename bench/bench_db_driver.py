"""MySQL driver choice: bulk upsert rate of metric rows, PyMySQL vs mysqlclient, same run.

Each driver writes the same N rows into a fresh `metrics` table through the real write path
(preempt.storage.metrics.write_samples: multi-row INSERT ... ON DUPLICATE KEY UPDATE in chunks).
Prints JSON. Usage: .venv/bin/python bench/bench_db_driver.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import time
from datetime import datetime, timedelta

import sqlalchemy as sa

from preempt.domain import DEFAULT_MONITORED_FIELDS, Sample
from preempt.storage import migrate
from preempt.storage.engine import create_engine_for, ensure_database
from preempt.storage.metrics import count_samples, write_samples

SERVER = os.environ.get("PREEMPT_BENCH_MYSQL", "root@127.0.0.1:3306")
BATCH = 50_000


def make_samples(rows: int) -> list[Sample]:
    start = datetime(2026, 1, 1)
    per_location = 168 * len(DEFAULT_MONITORED_FIELDS)
    out = []
    for i in range(rows):
        location, rest = divmod(i, per_location)
        metric, hour = divmod(rest, 168)
        out.append(Sample(location + 1, DEFAULT_MONITORED_FIELDS[metric],
                          start + timedelta(hours=hour), 10.0 + (i % 97) * 0.1))
    return out


def measure(url: str, samples: list[Sample]) -> dict[str, float]:
    engine = create_engine_for(url)
    migrate.upgrade(engine)
    started = time.perf_counter()
    for offset in range(0, len(samples), BATCH):
        with engine.begin() as conn:
            write_samples(conn, samples[offset : offset + BATCH])
    elapsed = time.perf_counter() - started
    with engine.connect() as conn:
        stored = count_samples(conn)
    engine.dispose()
    return {"seconds": round(elapsed, 2), "rows_per_s": round(len(samples) / elapsed),
            "rows_stored": stored}


RAW_SQL = (
    "INSERT INTO metrics (timestamp, location_id, metric_type, value) VALUES (%s, %s, %s, %s) "
    "ON DUPLICATE KEY UPDATE value = VALUES(value)"
)


def measure_raw(url: str, samples: list[Sample]) -> dict[str, float]:
    """The driver alone: cursor.executemany of tuples (its own multi-row rewrite)."""
    engine = create_engine_for(url)
    migrate.upgrade(engine)
    rows = [(s.timestamp, s.location_id, s.metric_type, s.value) for s in samples]
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for offset in range(0, len(rows), BATCH):
            cursor.executemany(RAW_SQL, rows[offset : offset + BATCH])
            raw.commit()
    finally:
        raw.close()
    elapsed = time.perf_counter() - started
    with engine.begin() as conn:
        stored = count_samples(conn)
        conn.execute(sa.text("DELETE FROM metrics"))
    engine.dispose()
    return {"seconds": round(elapsed, 2), "rows_per_s": round(len(samples) / elapsed),
            "rows_stored": stored}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    samples = make_samples(args.rows)
    drivers = ["pymysql"] + (["mysqldb"] if importlib.util.find_spec("MySQLdb") else [])
    results: dict[str, object] = {}
    for driver in drivers:
        name = f"preempt_bench_driver_{driver}_{os.getpid()}"
        url = f"mysql+{driver}://{SERVER}/{name}?charset=utf8mb4"
        ensure_database(url)
        try:
            results[f"{driver}_raw_cursor"] = measure_raw(url, samples)
            results[driver] = measure(url, samples)
        finally:
            server = create_engine_for(f"mysql+pymysql://{SERVER}")
            with server.begin() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
            server.dispose()
    sqlite_path = f"/tmp/preempt_bench_{os.getpid()}.db"
    try:
        results["sqlite"] = measure(f"sqlite:///{sqlite_path}", samples)
    finally:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(sqlite_path + suffix):
                os.remove(sqlite_path + suffix)
    figures: dict[str, object] = {"benchmark": "db_driver_bulk_upsert", "rows": args.rows,
                                  "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                                  "results": results}
    if "mysqldb" in results:
        a, b = results["mysqldb"], results["pymysql"]
        assert isinstance(a, dict) and isinstance(b, dict)
        figures["mysqlclient_over_pymysql"] = round(a["rows_per_s"] / b["rows_per_s"], 2)
        a, b = results["mysqldb_raw_cursor"], results["pymysql_raw_cursor"]
        assert isinstance(a, dict) and isinstance(b, dict)
        figures["mysqlclient_over_pymysql_raw"] = round(a["rows_per_s"] / b["rows_per_s"], 2)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
