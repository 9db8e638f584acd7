"""API latency under load next to the raw SQL time of the same queries; prints JSON.

Data: N locations x 5 metrics x 7 days hourly plus the last day every 5 minutes in MariaDB,
written with the storage writer (write_columns) one location after the other, and ~10
anomalies per location. (Writing the 5-minute values of all locations per timestamp, as the
store does live, is the realistic order but crawls with the server's default 128 MB buffer
pool: every row lands on a different index page.) Then, for `GET /metrics?location=X&hours=24`
and `GET /anomalies?location=X` with random X: the raw query the endpoint runs (driver only, one
client) and the API under 1, 16 and 64 concurrent clients (wrk when installed, else an httpx
async load generator in this process, which competes with the server for CPU: the JSON names
the tool). Every figure carries the load average when it was taken, and each API run the CPU
time per request of the server processes and of a local database server (whatever else that
database serves meanwhile included): on a shared machine latency follows the load, CPU per
request much less.

    .venv/bin/python bench/bench_api.py [--locations 10000] [--duration-s 10] [--workers 2]

The database (default preempt_bench_api on PREEMPT_TEST_MYSQL_URL) is kept between runs and
reused when it already holds the same data set; --reload rebuilds it, --drop removes it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from preempt.api.series import series_json_statement, series_query
from preempt.config import MYSQL_DRIVERS, default_mysql_driver
from preempt.domain import DEFAULT_MONITORED_FIELDS, Anomaly, NewLocation
from preempt.storage import migrate
from preempt.storage.anomalies import list_anomalies, upsert_anomalies
from preempt.storage.engine import create_engine_for, ensure_database
from preempt.storage.locations import count_locations, insert_locations, list_locations
from preempt.storage.metrics import SampleColumns, count_samples, write_columns
from preempt.storage.tables import anomalies, locations

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("PREEMPT_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
HISTORY_HOURS = 7 * 24
FIVE_MIN_PER_DAY = 288
ANOMALIES_PER_LOCATION = 10
METRICS = DEFAULT_MONITORED_FIELDS


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- data ------------------------------------------------------------------------------------


def expected_samples(n_locations: int) -> int:
    # hourly from now-7d to now-1d (exclusive), then every 5 minutes for the last day
    return n_locations * len(METRICS) * (HISTORY_HOURS - 24 + FIVE_MIN_PER_DAY)


def value(loc: int, k: int, hours: float) -> float:
    return round(10 + 8 * ((loc * 7 + k * 3 + int(hours)) % 24) / 24 + (loc % 13), 2)


def load(engine: Engine, n_locations: int, end: datetime) -> None:
    """Fill an empty schema with the data set described in the module docstring."""
    started = time.perf_counter()
    with engine.begin() as conn:
        insert_locations(conn, [
            NewLocation(f"Bench City {i:05d}", -60 + (i * 0.0137) % 120, -180 + (i * 0.036) % 360)
            for i in range(1, n_locations + 1)
        ])
        ids = [loc.id for loc in list_locations(conn)]
    history = [end - timedelta(days=7) + timedelta(hours=h) for h in range(HISTORY_HOURS - 24)]
    day_start = end - timedelta(days=1)
    recent = [day_start + timedelta(minutes=5 * step) for step in range(FIVE_MIN_PER_DAY)]
    times = history + recent
    hours = [h for h in range(len(history))] + [len(history) + s / 12 for s in range(len(recent))]
    for start in range(0, len(ids), 250):
        chunk = ids[start : start + 250]
        with engine.begin() as conn:
            write_columns(conn, (
                SampleColumns(loc, times, {m: [value(loc, k, h) for h in hours]
                                           for k, m in enumerate(METRICS)})
                for loc in chunk
            ))
        if (start // 250) % 4 == 3:
            log(f"samples: {start + len(chunk)}/{len(ids)} locations")
    rng = random.Random(7)
    for start in range(0, len(ids), 1000):
        found = []
        for loc in ids[start : start + 1000]:
            for _ in range(ANOMALIES_PER_LOCATION):
                stamp = end - timedelta(hours=rng.randrange(1, HISTORY_HOURS))
                found.append(Anomaly(loc, rng.choice(METRICS), stamp, 40.0, rng.random(),
                                     rng.choice(("low", "medium", "high")), ("seasonal",),
                                     "bench", z_score=4.2, expected=12.0, lower=8.0,
                                     upper=16.0))
        with engine.begin() as conn:
            upsert_anomalies(conn, found)
    log(f"loaded in {time.perf_counter() - started:.0f}s")


def prepare(url: str, n_locations: int, *, reload: bool) -> tuple[Engine, float]:
    """Engine on a database holding the data set; returns (engine, load seconds or 0)."""
    ensure_database(url)
    engine = create_engine_for(url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        have_locations = count_locations(conn)
        have_samples = count_samples(conn) if have_locations == n_locations else -1
    if not reload and have_locations == n_locations and \
            have_samples == expected_samples(n_locations):
        log(f"reusing {have_samples} samples of {have_locations} locations")
        return engine, 0.0
    with engine.begin() as conn:
        for table in ("metrics", "anomalies", "alarm_suggestions", "locations"):
            conn.execute(sa.text(f"TRUNCATE TABLE {table}"))
    started = time.perf_counter()
    load(engine, n_locations, datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0))
    with engine.connect() as conn:
        conn.execute(sa.text("ANALYZE TABLE metrics, anomalies, locations"))
    return engine, time.perf_counter() - started


# --- raw SQL ---------------------------------------------------------------------------------


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50_ms": round(pick(0.50), 3), "p99_ms": round(pick(0.99), 3),
            "mean_ms": round(statistics.fmean(ordered), 3)}


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages (as `uptime` prints them) when a figure is taken."""
    return [round(x, 2) for x in os.getloadavg()]


def raw_sql(engine: Engine, names: list[str], iterations: int) -> dict[str, Any]:
    """The endpoints' queries (by location name) through the bare driver cursor, one client:
    `metrics` is the statement GET /metrics runs (each metric's points as JSON text from the
    server), `metrics_rows` the same samples as one row each (the row form, for comparison).
    `server_cpu_ms_per_query` is the database's own CPU per query, which varies far less with
    the machine's load than the wall time does (None when it cannot be read)."""
    dialect = engine.dialect
    rng = random.Random(1)
    out: dict[str, Any] = {}
    now = datetime.now(UTC)
    since = now - timedelta(hours=24)

    def compiled(stmt: Any) -> tuple[str, tuple[Any, ...]]:
        return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True})), ()

    statements: dict[str, Callable[[str], tuple[str, tuple[Any, ...]]]] = {
        "metrics": lambda name: series_json_statement(dialect, name, METRICS, since, now),
        "metrics_rows": lambda name: compiled(series_query(name, METRICS, since, now)),
        "anomalies": lambda name: compiled(_anomaly_query(name)),
    }
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        server_cpu = server_thread_cpu(cursor)
        for label, statement in statements.items():
            times: list[float] = []
            rows = 0
            cpu_before = server_cpu()
            for _ in range(iterations):
                sql, params = statement(rng.choice(names))
                started = time.perf_counter()
                cursor.execute(sql, params or None)
                rows += len(cursor.fetchall())
                times.append((time.perf_counter() - started) * 1000)
            cpu_after = server_cpu()
            out[label] = {
                **percentiles(times), "rows_per_query": rows / iterations,
                "server_cpu_ms_per_query": None if cpu_before is None or cpu_after is None
                else round((cpu_after - cpu_before) * 1000 / iterations, 3),
                "loadavg": loadavg(),
            }
        cursor.close()
    finally:
        raw.close()
    return out


def server_thread_cpu(cursor: Any) -> Callable[[], float | None]:
    """CPU seconds so far of the database server thread serving the cursor's connection (a
    local MariaDB, which names the thread in PROCESSLIST.TID), else None: unlike the whole
    server's CPU it leaves out what the server does for others meanwhile."""
    stat: Path | None = None
    try:
        cursor.execute("SELECT TID FROM information_schema.PROCESSLIST "
                       "WHERE ID = CONNECTION_ID()")
        tid = cursor.fetchall()[0][0]
        stat = next((path for pid in database_pids()
                     if (path := Path(f"/proc/{pid}/task/{tid}/schedstat")).exists()), None)
    except Exception:  # MySQL, or an older MariaDB: no TID column
        pass

    def read() -> float | None:
        try:  # schedstat: nanoseconds on the CPU first
            return int(stat.read_text().split()[0]) / 1e9 if stat else None
        except OSError:
            return None

    return read


def _anomaly_query(location: str) -> Any:
    """The SELECT list_anomalies runs (captured from the storage function itself)."""
    captured: list[Any] = []

    class Capture:
        def execute(self, stmt: Any, params: dict[str, Any] | None = None) -> list[Any]:
            captured.append(stmt.params(params or {}))
            return []

    list_anomalies(Capture(), location, limit=101)  # type: ignore[arg-type]
    return captured[0]


# --- CPU per request (load-independent, Linux /proc) -----------------------------------------

_TICK_S = 1 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of the processes (0 for any that vanished)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) * _TICK_S
    return total


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (the uvicorn supervisor and its workers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo += [int(c) for c in children]
    return found


def database_pids() -> list[int]:
    """The local MariaDB/MySQL server process, when it runs on this machine."""
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in ("mariadbd", "mysqld"):
                pids.append(int(comm.parent.name))
        except OSError:
            continue
    return pids


# --- the server and the load -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    config = Path(tempfile.mkdtemp()) / "config.yaml"
    config.write_text("server:\n  max_limit: 1000\n")
    env = {**os.environ, "PREEMPT_DATABASE_URL": url, "PREEMPT_CONFIG": str(config)}
    env.pop("REDIS_HOST", None)
    env.pop("PREEMPT_REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "preempt.api.factory:app_from_environment",
         "--factory", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
         "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("the API server did not start")


def paths_for(endpoint: str, names: list[str]) -> list[str]:
    if endpoint == "metrics":
        return [f"/metrics?location={quote(n)}&hours=24" for n in names]
    return [f"/anomalies?location={quote(n)}" for n in names]


WRK_SCRIPT = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
math.randomseed(os.time())
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def run_wrk(base: str, paths: list[str], clients: int, duration_s: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp())
    (workdir / "paths.txt").write_text("\n".join(paths) + "\n")
    (workdir / "pick.lua").write_text(WRK_SCRIPT % (workdir / "paths.txt"))
    threads = min(clients, 2)
    result = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{duration_s}s", "--latency",
         "--timeout", "10s", "-s", str(workdir / "pick.lua"), base],
        capture_output=True, text=True, check=True,
    )
    text = result.stdout
    latency = {q: float(v) * _UNITS_MS[u] for q, v, u in
               re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    total = re.search(r"(\d+) requests in", text)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if rate is None or "50" not in latency or "99" not in latency:
        raise RuntimeError(f"unexpected wrk output:\n{text}")
    return {
        "p50_ms": round(latency["50"], 3), "p99_ms": round(latency["99"], 3),
        "req_per_s": float(rate.group(1)),
        "requests": int(total.group(1)) if total else None,
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


async def _httpx_load(base: str, paths: list[str], clients: int,
                      duration_s: int) -> dict[str, Any]:
    times: list[float] = []
    failures = 0
    stop = time.monotonic() + duration_s
    rng = random.Random(3)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as http:
        async def worker() -> None:
            nonlocal failures
            while time.monotonic() < stop:
                started = time.perf_counter()
                response = await http.get(rng.choice(paths))
                times.append((time.perf_counter() - started) * 1000)
                failures += response.status_code != 200

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.monotonic() - began
    return {**percentiles(times), "req_per_s": round(len(times) / elapsed, 1),
            "requests": len(times), "non_2xx": failures}


def run_load(tool: str, base: str, paths: list[str], clients: int,
             duration_s: int) -> dict[str, Any]:
    if tool == "wrk":
        figures = run_wrk(base, paths, clients, duration_s)
    else:
        figures = asyncio.run(_httpx_load(base, paths, clients, duration_s))
    return {**figures, "loadavg": loadavg()}


def describe_tool(tool: str) -> str:
    """The load tool with its version; the Python fallback is flagged as such."""
    if tool == "httpx":
        return ("httpx (Python async load generator, in this process: it competes with the "
                "server for CPU; install wrk for fair figures)")
    found = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    first = (found.stdout or found.stderr).strip().splitlines()
    return first[0].split(" [")[0] if first else "wrk"


# --- main ------------------------------------------------------------------------------------


def goals(api: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """The issue's goal: p99 under 50 ms at 16 clients, the API within 3x of the raw query
    (API at one client over the raw query, p50 and p99)."""
    one, sixteen = api.get("1"), api.get("16")
    ratio = {q: round(one[f"{q}_ms"] / raw[f"{q}_ms"], 2) for q in ("p50", "p99")} if one else {}
    return {
        "api_over_raw_1_client": ratio,
        "goal_p99_under_50ms_at_16": sixteen["p99_ms"] < 50 if sixteen else None,
        "goal_api_within_3x_raw": ratio["p50"] <= 3 if ratio else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=10_000)
    parser.add_argument("--database", default="preempt_bench_api")
    parser.add_argument("--duration-s", type=int, default=10)
    parser.add_argument("--clients", default="1,16,64")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--raw-iterations", type=int, default=500)
    parser.add_argument("--tool", choices=("auto", "wrk", "httpx"), default="auto")
    parser.add_argument("--driver", choices=MYSQL_DRIVERS, default=default_mysql_driver(),
                        help="database driver of the loader, the raw timing and the server")
    parser.add_argument("--reload", action="store_true", help="rebuild the data set")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args()
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "httpx")
    if tool == "httpx":
        log("wrk not found: falling back to the Python load generator (it takes CPU from the "
            "server; figures are pessimistic)")
    server_url = re.sub(r"^mysql\+\w+://", f"mysql+{args.driver}://", SERVER_URL)
    url = f"{server_url}/{args.database}?charset=utf8mb4"
    load_before = loadavg()
    engine, load_s = prepare(url, args.locations, reload=args.reload)
    with engine.connect() as conn:
        names = [n for (n,) in conn.execute(sa.select(locations.c.name))]
        counts = {"locations": len(names), "samples": count_samples(conn),
                  "anomalies": conn.execute(sa.select(sa.func.count()).select_from(anomalies))
                  .scalar_one()}
        pool_bytes = conn.execute(sa.text("SELECT @@innodb_buffer_pool_size")).scalar_one()
    log("raw SQL timings")
    raw = raw_sql(engine, names, args.raw_iterations)
    port = free_port()
    log(f"starting the API ({args.workers} workers) on :{port}")
    server = start_server(url, port, args.workers)
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {}
    database = database_pids() if re.search(r"@(127\.0\.0\.1|localhost)[:/]", url) else []
    try:
        for endpoint in ("metrics", "anomalies"):
            paths = paths_for(endpoint, names)
            run_load(tool, base, paths, 4, 2)  # warm-up: pools, caches
            rows: dict[str, Any] = {}
            for clients in (int(c) for c in args.clients.split(",")):
                log(f"{endpoint}: {clients} client(s), {args.duration_s}s")
                served = process_tree(server.pid)
                before = cpu_s(served), cpu_s(database)
                row = run_load(tool, base, paths, clients, args.duration_s)
                after = cpu_s(served), cpu_s(database)
                done = max(1, row["requests"] or 0)
                row["cpu_ms_per_request"] = {
                    "server": round((after[0] - before[0]) * 1000 / done, 2),
                    "database": round((after[1] - before[1]) * 1000 / done, 2)
                    if database else None,
                }
                rows[str(clients)] = row
            results[endpoint] = {
                "request": paths[0].split("?")[0] + ("?location=X&hours=24"
                                                    if endpoint == "metrics" else "?location=X"),
                "raw_sql_1_client": raw[endpoint],
                **({"raw_sql_rows_1_client": raw["metrics_rows"]} if endpoint == "metrics"
                   else {}),
                "api": rows,
                **goals(rows, raw[endpoint]),
            }
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    if args.drop:
        with create_engine_for(SERVER_URL).begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{args.database}`"))
    print(json.dumps({
        "bench": "api", "tool": tool, "load_tool": describe_tool(tool), "workers": args.workers,
        "cpus": os.cpu_count(),
        "driver": args.driver, "loadavg_before_after": [load_before, loadavg()],
        "duration_s_per_run": args.duration_s, "data": counts,
        "innodb_buffer_pool_mb": int(pool_bytes) // 2**20,
        "load_s": round(load_s, 1), "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
