"""Store throughput against the raw bulk-insert ceiling, on MariaDB and SQLite; prints JSON.

(a) raw ceiling: the fastest direct bulk insert of N metric rows with the driver into an empty
    table (MariaDB: multi-row INSERT literals and LOAD DATA LOCAL INFILE; SQLite: executemany;
    the best counts); (b) `preempt store --until-idle` as a separate process draining a
    pre-filled stream of the same rows: `store_rows_per_s` is the process's wall time
    (interpreter start-up included), `store_service_rows_per_s` the service's own time from its
    summary line. Raw and store runs alternate `--rounds` times and the best of each is kept:
    the machine may be shared, and load drifts. Also the peak RSS (VmHWM) of the store process
    for a stream of N and of N/10 rows.

    .venv/bin/python bench/bench_store.py [--rows 1000000] [--rounds 2] [--skip-sqlite]

Needs MariaDB (PREEMPT_TEST_MYSQL_URL, default mysql+pymysql://root@127.0.0.1:3306) and Redis
(PREEMPT_TEST_REDIS_URL, default redis://127.0.0.1:6379/0); uses a throwaway database and key
prefix and removes both.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pymysql
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from preempt.domain import DEFAULT_MONITORED_FIELDS
from preempt.storage import migrate
from preempt.storage.engine import create_engine_for, ensure_database
from preempt.streams import RedisBus, names
from preempt.streams.messages import WeatherBatch

HOURS = 168  # one entry = one location's 7-day hourly history, like collect's bootstrap
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
ROOT = Path(__file__).resolve().parent.parent
Row = tuple[int, str, str, float]


def batches(rows: int) -> Iterator[WeatherBatch]:
    """Entries holding exactly `rows` samples: 5 metrics x 168 hours per location."""
    per_entry = HOURS * len(DEFAULT_MONITORED_FIELDS)
    fetched = datetime.now(UTC)
    for loc, start in enumerate(range(0, rows, per_entry), start=1):
        n = min(per_entry, rows - start)
        hours = -(-n // len(DEFAULT_MONITORED_FIELDS))
        values: dict[str, list[float | None]] = {}
        left = n
        for k, metric in enumerate(DEFAULT_MONITORED_FIELDS):
            take = min(hours, left)
            left -= take
            values[metric] = [float((loc * 7 + h + k) % 40) for h in range(take)]
            values[metric] += [None] * (hours - take)
        yield WeatherBatch(location_id=loc, location=f"Bench {loc}", kind="history",
                           source="bench", fetched_at=fetched,
                           times=[T0 + 3600 * h for h in range(hours)], values=values)


def plain_rows(rows: int) -> list[Row]:
    out: list[Row] = []
    for b in batches(rows):
        stamps = [datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S") for t in b.times]
        for metric, column in b.values.items():
            out.extend((b.location_id, metric, s, v) for s, v in zip(stamps, column, strict=True)
                       if v is not None)
    return out


# --- (a) raw ceilings ---------------------------------------------------------------------


def mysql_connect(url: str) -> Any:
    u = make_url(url)
    return pymysql.connect(host=u.host, port=u.port or 3306, user=u.username,
                           password=u.password or "", database=u.database, local_infile=True,
                           charset="utf8mb4")


def raw_mysql(url: str, data: list[Row]) -> dict[str, Any]:
    """rows/s of three driver-level methods into an empty metrics table."""
    conn = mysql_connect(url)
    cur = conn.cursor()
    results: dict[str, Any] = {}
    insert = "INSERT INTO metrics (location_id, metric_type, timestamp, value) VALUES "

    def timed(name: str, work: Any) -> None:
        cur.execute("TRUNCATE TABLE metrics")
        results[f"{name}_load_avg"] = round(os.getloadavg()[0], 1)
        started = time.perf_counter()
        work()
        conn.commit()
        results[name] = round(len(data) / (time.perf_counter() - started))

    def multirow() -> None:
        for i in range(0, len(data), 10_000):
            cur.execute(insert + ",".join(f"({a},'{b}','{c}',{d!r})"
                                          for a, b, c, d in data[i : i + 10_000]))

    def load_data() -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
            for i in range(0, len(data), 100_000):
                f.write("".join(f"{a}\t{b}\t{c}\t{d!r}\n" for a, b, c, d in data[i : i + 100_000]))
        try:
            cur.execute(f"LOAD DATA LOCAL INFILE '{f.name}' INTO TABLE metrics "
                        "(location_id, metric_type, timestamp, value)")
        finally:
            os.unlink(f.name)

    timed("multi_row_insert", multirow)
    try:
        timed("load_data_local_infile", load_data)
    except pymysql.err.MySQLError as exc:
        results["load_data_local_infile_error"] = str(exc)
    cur.execute("TRUNCATE TABLE metrics")
    conn.commit()
    conn.close()
    return results


def raw_sqlite(path: Path, data: list[Row]) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("DELETE FROM metrics")
    conn.commit()
    load = round(os.getloadavg()[0], 1)
    started = time.perf_counter()
    conn.executemany("INSERT INTO metrics (location_id, metric_type, timestamp, value) "
                     "VALUES (?, ?, ?, ?)", ((a, b, c + ".000000", d) for a, b, c, d in data))
    conn.commit()
    rate = round(len(data) / (time.perf_counter() - started))
    conn.execute("DELETE FROM metrics")
    conn.commit()
    conn.close()
    return {"executemany": rate, "executemany_load_avg": load}


# --- (b) the store service ----------------------------------------------------------------


def fill_stream(redis_url: str, prefix: str, rows: int) -> int:
    bus = RedisBus.from_url(redis_url, prefix=prefix)
    bus.delete(names.WEATHER_METRICS)
    bus.ensure_group(names.WEATHER_METRICS, "store")
    chunk: list[bytes] = []
    entries = 0
    for b in batches(rows):
        chunk.append(b.encode())
        if len(chunk) == 500:
            entries += len(bus.add_many(names.WEATHER_METRICS, chunk))
            chunk = []
    entries += len(bus.add_many(names.WEATHER_METRICS, chunk))
    bus.close()
    return entries


def run_store(db_url: str, redis_url: str, prefix: str, config: Path) -> dict[str, Any]:
    env = {**os.environ, "PREEMPT_DATABASE_URL": db_url, "PREEMPT_REDIS_URL": redis_url,
           "PREEMPT_REDIS_PREFIX": prefix, "PREEMPT_CONFIG": str(config)}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from preempt.cli import main; main()",
         "--log-level", "WARNING", "store", "--until-idle"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    # VmHWM is the peak RSS of the store's own image (ru_maxrss would include the pages this
    # bench process had when it forked the child).
    peak_kb = 0
    while proc.poll() is None:
        peak_kb = max(peak_kb, _vm_hwm_kb(proc.pid))
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"store exited with {proc.returncode}: {err.decode()[-2000:]}")
    return {"seconds": round(elapsed, 2), "peak_rss_mb": round(peak_kb / 1024, 1),
            "summary": out.decode().strip()}


def _vm_hwm_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def count_rows(db_url: str) -> int:
    engine = create_engine_for(db_url)
    with engine.connect() as conn:
        n = int(conn.execute(sa.text("SELECT COUNT(*) FROM metrics")).scalar_one())
        conn.execute(sa.text("DELETE FROM metrics"))
        conn.commit()
    engine.dispose()
    return n


def best(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per method, the round with the highest rate (the machine is shared: load drifts)."""
    out: dict[str, Any] = {}
    for r in rounds:
        for method, rate in r.items():
            if method.endswith("_load_avg") or not isinstance(rate, int | float):
                continue
            if rate > out.get(method, -1):
                out[method] = rate
                out[f"{method}_load_avg"] = r.get(f"{method}_load_avg")
    return out


def bench_backend(name: str, db_url: str, raw_once: Callable[[], dict[str, Any]], rows: int,
                  redis_url: str, config: Path, rounds: int) -> dict[str, Any]:
    """`rounds` x (raw methods, then the store on the same rows), best of each; then the
    store's peak memory on a stream 10x shorter, to show it does not grow with the stream."""
    prefix = f"bench_{uuid.uuid4().hex[:8]}:"
    raw_rounds: list[dict[str, Any]] = []
    store_rounds: list[dict[str, Any]] = []
    memory: dict[str, float] = {}
    try:
        for _ in range(rounds):
            raw_rounds.append(raw_once())
            store_rounds.append(store_once(name, db_url, redis_url, prefix, config, rows))
        small = max(rows // 10, 840)
        memory[f"{small}_rows"] = store_once(name, db_url, redis_url, prefix, config,
                                             small)["peak_rss_mb"]
    finally:
        bus = RedisBus.from_url(redis_url, prefix=prefix)
        bus.delete(names.WEATHER_METRICS, names.WEATHER_METRICS_DEAD)
        bus.close()
    raw = best(raw_rounds)
    ceiling = max(v for k, v in raw.items() if not k.endswith("_load_avg"))
    store = max(store_rounds, key=lambda r: r["store_rows_per_s"])
    memory[f"{rows}_rows"] = max(r["peak_rss_mb"] for r in store_rounds)
    service = store["store_service_rows_per_s"]
    return {
        "raw_rows_per_s": raw,
        "raw_ceiling_rows_per_s": ceiling,
        **store,
        "ratio_store_to_raw": round(store["store_rows_per_s"] / ceiling, 3),
        "ratio_service_to_raw": round(service / ceiling, 3) if service else None,
        "store_peak_rss_mb": memory,
        "store_rounds_rows_per_s": [r["store_rows_per_s"] for r in store_rounds],
    }


def store_once(name: str, db_url: str, redis_url: str, prefix: str, config: Path,
               rows: int) -> dict[str, Any]:
    fill_stream(redis_url, prefix, rows)
    load = round(os.getloadavg()[0], 1)
    run = run_store(db_url, redis_url, prefix, config)
    stored = count_rows(db_url)
    if stored != rows:
        raise RuntimeError(f"{name}: stored {stored} rows of {rows}")
    # The service's own rate: first read to last ack, without interpreter start-up.
    match = re.search(r"batches, ([\d.]+)s", run["summary"])
    return {
        "store_rows_per_s": round(rows / run["seconds"]),
        "store_seconds": run["seconds"],
        "store_service_rows_per_s": round(rows / float(match.group(1))) if match else None,
        "store_load_avg": load,
        "store_summary": run["summary"],
        "peak_rss_mb": run["peak_rss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-mysql", action="store_true")
    parser.add_argument("--rounds", type=int, default=2,
                        help="Alternate raw and store runs this often; report the best of each.")
    args = parser.parse_args()
    server = os.environ.get("PREEMPT_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
    redis_url = os.environ.get("PREEMPT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    data = plain_rows(args.rows)
    report: dict[str, Any] = {"rows": args.rows, "entries": -(-args.rows // (HOURS * 5)),
                              "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.yaml"
        config.write_text("store:\n  block_s: 0.2\n  summary_every_s: 3600\n")
        if not args.skip_mysql:
            name = f"preempt_bench_{os.getpid()}"
            url = f"{server}/{name}?charset=utf8mb4"
            ensure_database(url)
            engine = create_engine_for(url)
            migrate.upgrade(engine)
            try:
                report["mariadb"] = bench_backend(
                    "mariadb", url, partial(raw_mysql, url, data), args.rows, redis_url, config,
                    args.rounds)
            finally:
                with engine.begin() as conn:
                    conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
                engine.dispose()
        if not args.skip_sqlite:
            path = Path(tmp) / "bench.db"
            url = f"sqlite:///{path}"
            engine = create_engine_for(url)
            migrate.upgrade(engine)
            engine.dispose()
            report["sqlite"] = bench_backend(
                "sqlite", url, partial(raw_sqlite, path, data), args.rows, redis_url, config,
                args.rounds)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
