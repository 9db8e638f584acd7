"""Detect + ml-trainer cycle times for N locations x 5 metrics x 7 days hourly in MariaDB, next
to the classic SEED.md approach (per-location jobs, Isolation Forest trained every cycle), in
the same run; prints JSON.

Per N and per number of ml-trainer processes (1, 2), on a database holding the data:
  train        empty models directory and watermark: every model is trained, the last day of
               every series is judged (the first cycle after the 7-day bootstrap);
  fresh_1h     models fresh, one new hourly sample per series (the steady 10-minute cycle);
  fresh_1d     models fresh, the last day of every series judged again.
detect runs in this process (one `preempt detect` worker), the trainers as `preempt ml-trainer`
subprocesses. Classic: per location one query, z-score, one ML job on a stream answered by a
worker process that fits scikit-learn IsolationForest(n_estimators=100) per metric, waited for
before the next location, anomalies written per location. For large N it times a sample of
locations and extrapolates linearly (said so in the output).

    .venv/bin/python bench/bench_detect.py [--locations 892,10000] [--trainers 1,2]
        [--classic-sample 300] [--keep]

Data is generated inside MariaDB (sequence engine): a diurnal cycle per location and metric,
noise, rare spikes. Needs MariaDB (PREEMPT_TEST_MYSQL_URL, default
mysql+pymysql://root@127.0.0.1:3306) and Redis (PREEMPT_TEST_REDIS_URL). Databases are named
preempt_bench_detect_<N> and kept with --keep (reused by the next run), else dropped.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import sqlalchemy as sa

from preempt.config import load_settings
from preempt.domain import DEFAULT_MONITORED_FIELDS, Anomaly
from preempt.services import detect
from preempt.storage import migrate
from preempt.storage.anomalies import upsert_anomalies
from preempt.storage.detect_state import epoch_s
from preempt.storage.engine import create_engine_for, ensure_database
from preempt.storage.tables import metrics
from preempt.streams import RedisBus, request_replies, send_reply

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("PREEMPT_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
REDIS = os.environ.get("PREEMPT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HOURS = 168
CLASSIC_IN, CLASSIC_OUT, CLASSIC_GROUP = "bench_classic_in", "bench_classic_out", "classic"

# value = base + amplitude * sin(day phase) + noise, by metric; precipitation is mostly 0.
_FORMULA = {
    "temperature_2m": "15 + 10*SIN(l.seq*0.7) + 6*SIN(2*PI()*((h.seq + l.seq) % 24)/24)"
                      " + (RAND()-0.5)*2 + IF(RAND() < 0.002, 15, 0)",
    "relative_humidity_2m": "LEAST(100, GREATEST(5, 65 + 15*SIN(2*PI()*((h.seq + l.seq) % 24)"
                            "/24) + (RAND()-0.5)*10))",
    "precipitation": "IF(RAND() < 0.1, ROUND(RAND()*3, 1), 0)",
    "wind_speed_10m": "GREATEST(0, 12 + 5*SIN(2*PI()*((h.seq + l.seq) % 24)/24)"
                      " + (RAND()-0.5)*6 + IF(RAND() < 0.002, 40, 0))",
    "dew_point_2m": "5 + 8*SIN(l.seq*0.7) + 3*SIN(2*PI()*((h.seq + l.seq) % 24)/24)"
                    " + (RAND()-0.5)*2",
}


# --- data ---------------------------------------------------------------------------------------


def prepare(n: int, *, keep: bool) -> tuple[str, float]:
    """A migrated database with N locations and 7 days + 1 hour of hourly data; (url, end_s)."""
    url = f"{SERVER}/preempt_bench_detect_{n}?charset=utf8mb4"
    ensure_database(url)
    engine = create_engine_for(url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        have = conn.execute(sa.text("SELECT COUNT(*) FROM locations")).scalar_one()
        rows = conn.execute(sa.text("SELECT COUNT(*) FROM metrics")).scalar_one()
    if not (keep and have == n and rows == n * (HOURS + 1) * len(_FORMULA)):
        started = time.perf_counter()
        _generate(engine, n)
        print(f"# generated {n} locations in {time.perf_counter() - started:.0f}s",
              file=sys.stderr)
    with engine.connect() as conn:
        end = conn.execute(sa.select(sa.func.max(metrics.c.timestamp))).scalar_one()
    engine.dispose()
    return url, epoch_s(end)


def _generate(engine: sa.engine.Engine, n: int) -> None:
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    start = end - timedelta(hours=HOURS)
    with engine.begin() as conn:
        for table in ("metrics", "locations", "anomalies", "alarm_suggestions", "detect_state",
                      "detect_cycles", "detect_cycle_jobs"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
        conn.execute(sa.text(
            f"INSERT INTO locations (id, name, latitude, longitude) SELECT seq, "
            f"CONCAT('Bench ', seq), CAST(seq % 120 AS SIGNED) - 60, "
            f"CAST(seq % 340 AS SIGNED) - 170 FROM seq_1_to_{n}"))
    for lo in range(1, n + 1, 250):
        hi = min(n, lo + 249)
        with engine.begin() as conn:
            for metric, formula in _FORMULA.items():
                conn.execute(sa.text(
                    f"INSERT INTO metrics (timestamp, location_id, metric_type, value) "
                    f"SELECT TIMESTAMPADD(HOUR, h.seq, '{start:%Y-%m-%d %H:%M:%S}'), l.seq, "
                    f"'{metric}', ROUND({formula}, 2) FROM seq_{lo}_to_{hi} l, seq_0_to_{HOURS} h"
                ))


def _reset(url: str, *, state: str) -> None:
    """state: "all" (no watermark, no results), "hour" (one new sample per series), "day"."""
    engine = create_engine_for(url)
    with engine.begin() as conn:
        for table in ("anomalies", "alarm_suggestions", "detect_cycles", "detect_cycle_jobs"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
        if state in ("all", "day"):
            conn.execute(sa.text("DELETE FROM detect_state"))
        else:
            conn.execute(sa.text("UPDATE detect_state SET judged_until = "
                                 "TIMESTAMPADD(HOUR, -1, judged_until), rescan_from = NULL"))
    engine.dispose()


# --- ours ---------------------------------------------------------------------------------------


def _config(tmp: Path) -> Path:
    path = tmp / "config.yaml"
    path.write_text(
        "detect:\n  batch_locations: 500\n  ml_timeout_s: 600s\n  block_s: 0.2\n"
        "ml:\n  bucket_locations: 100\n  block_s: 0.2\n  max_model_age_s: 24h\n",
        encoding="utf-8",
    )
    return path


def _env(url: str, prefix: str, models: Path, config: Path) -> dict[str, str]:
    return {**os.environ, "PREEMPT_DATABASE_URL": url, "PREEMPT_REDIS_URL": REDIS,
            "PREEMPT_REDIS_PREFIX": prefix, "PREEMPT_MODELS_DIR": str(models),
            "PREEMPT_CONFIG": str(config)}


CYCLES = {"train": "all", "fresh_1h": "hour", "fresh_1d": "day"}


def bench_ours(
    url: str, end_s: float, trainers: int, tmp: Path, cycles: list[str]
) -> dict[str, Any]:
    prefix = f"bench_detect_{uuid.uuid4().hex[:8]}:"
    models = tmp / f"models_{trainers}"
    shutil.rmtree(models, ignore_errors=True)
    config = _config(tmp)
    env = _env(url, prefix, models, config)
    settings = load_settings(config, env=env)
    engine = create_engine_for(url)
    migrate.upgrade(engine)  # a migration may have landed since prepare(): trainers check
    procs = [
        subprocess.Popen([sys.executable, "-m", "preempt", "--log-level", "WARNING",
                          "ml-trainer"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        for _ in range(trainers)
    ]
    bus = RedisBus.from_url(REDIS, prefix=prefix)
    out: dict[str, Any] = {}
    try:
        time.sleep(2.0)  # trainers import numpy/sklearn
        for name in cycles:
            state = CYCLES[name]
            _reset(url, state=state)
            started = time.perf_counter()
            totals = detect.run(settings, bus=bus, engine=engine, once=True,
                                clock=lambda: end_s + 120.0)
            elapsed = time.perf_counter() - started
            summary = totals.summaries[-1] if totals.summaries else ""
            out[name] = {"seconds": round(elapsed, 2), "summary": summary}
            print(f"# {trainers} trainer(s) {name}: {elapsed:.1f}s  {summary}", file=sys.stderr)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        bus.delete("ml_input", "ml_output", "detect_jobs", "ml_input:dead")
        bus.close()
        engine.dispose()
    return out


# --- classic (SEED.md) ---------------------------------------------------------------------------


def _classic_worker(prefix: str, consumer: str) -> None:
    from sklearn.ensemble import IsolationForest

    bus = RedisBus.from_url(REDIS, prefix=prefix)
    bus.ensure_group(CLASSIC_IN, CLASSIC_GROUP)
    while True:
        for entry in bus.read_group(CLASSIC_IN, CLASSIC_GROUP, consumer, count=1, block_s=1.0):
            job = orjson.loads(entry.payload)
            flagged: dict[str, list[int]] = {}
            for metric, values in job["series"].items():
                x = np.asarray(values, dtype=np.float64).reshape(-1, 1)
                model = IsolationForest(n_estimators=100, contamination=0.01, random_state=42)
                flagged[metric] = np.flatnonzero(model.fit(x).predict(x) == -1).tolist()
            send_reply(bus, CLASSIC_OUT, job_id=entry.headers["job_id"],
                       payload=orjson.dumps({"anomalies": flagged}))
            bus.ack(CLASSIC_IN, CLASSIC_GROUP, [entry.id])


def bench_classic(url: str, end_s: float, n: int, sample: int, workers: int) -> dict[str, Any]:
    prefix = f"bench_classic_{uuid.uuid4().hex[:8]}:"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_classic_worker, args=(prefix, f"w{i}"), daemon=True)
             for i in range(workers)]
    for p in procs:
        p.start()
    _reset(url, state="all")
    engine = create_engine_for(url)
    bus = RedisBus.from_url(REDIS, prefix=prefix)
    bus.ensure_group(CLASSIC_IN, CLASSIC_GROUP)
    since = datetime.fromtimestamp(end_s - 7 * 86400, UTC).replace(tzinfo=None)
    ids = list(range(1, min(n, sample) + 1))
    time.sleep(3.0)
    started = time.perf_counter()
    found = 0
    for loc in ids:
        with engine.connect() as conn:  # SEED.md: fetch metrics per location
            rows = conn.execute(sa.select(metrics.c.metric_type, metrics.c.timestamp,
                                          metrics.c.value)
                                .where(metrics.c.location_id == loc, metrics.c.timestamp >= since)
                                .order_by(metrics.c.metric_type, metrics.c.timestamp)).all()
        series: dict[str, list[tuple[datetime, float]]] = {}
        for metric, ts, value in rows:
            series.setdefault(metric, []).append((ts, value))
        job_id = f"{loc}-{uuid.uuid4().hex[:6]}"
        payload = orjson.dumps({"series": {m: [v for _, v in s] for m, s in series.items()}})
        replies = request_replies(bus, request_stream=CLASSIC_IN, reply_stream=CLASSIC_OUT,
                                  jobs={job_id: payload}, timeout_s=60, poll_block_s=0.05)
        ml = orjson.loads(replies[job_id].payload)["anomalies"] if job_id in replies else {}
        out: list[Anomaly] = []
        for metric, points in series.items():
            v = np.asarray([p[1] for p in points])
            z = (v - v.mean()) / (v.std() or 1.0)
            hits = set(np.flatnonzero(np.abs(z) > 2).tolist()) | set(ml.get(metric, []))
            out.extend(Anomaly(loc, metric, points[i][0], float(v[i]), 0.6, "low",
                               ("classic",), "classic z-score / isolation forest",
                               z_score=float(z[i])) for i in sorted(hits))
        with engine.begin() as conn:
            upsert_anomalies(conn, out)
        found += len(out)
    elapsed = time.perf_counter() - started
    for p in procs:
        p.terminate()
    bus.delete(CLASSIC_IN, CLASSIC_OUT)
    bus.close()
    engine.dispose()
    result: dict[str, Any] = {"seconds": round(elapsed * n / len(ids), 2),
                              "locations_timed": len(ids), "anomalies_in_sample": found}
    if len(ids) < n:
        result["extrapolated"] = f"timed {len(ids)} locations ({elapsed:.1f}s), scaled to {n}"
    print(f"# classic {workers} worker(s): {result}", file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", default="892,10000")
    parser.add_argument("--trainers", default="1,2")
    parser.add_argument("--classic-sample", type=int, default=300)
    parser.add_argument("--skip-classic", action="store_true")
    parser.add_argument("--cycles", default="train,fresh_1h,fresh_1d",
                        help="which of train, fresh_1h, fresh_1d (train must come first)")
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the databases")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "benchmark": "detect_cycle",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "data": f"N locations x {len(DEFAULT_MONITORED_FIELDS)} metrics x {HOURS + 1} hourly "
                "samples (7 days) in MariaDB",
        "results": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench_detect_") as tmp_dir:
        tmp = Path(tmp_dir)
        for n in [int(x) for x in args.locations.split(",")]:
            url, end_s = prepare(n, keep=args.keep)
            entry: dict[str, Any] = {}
            for k in [int(x) for x in args.trainers.split(",")]:
                entry[f"ours_{k}_trainer{'s' if k > 1 else ''}"] = bench_ours(url, end_s, k, tmp,
                                                                       args.cycles.split(","))
                if not args.skip_classic:
                    entry[f"classic_{k}_worker{'s' if k > 1 else ''}"] = bench_classic(
                        url, end_s, n, args.classic_sample, k)
            report["results"][str(n)] = entry
            if not args.keep:
                server = create_engine_for(SERVER)
                with server.begin() as conn:
                    conn.execute(sa.text(f"DROP DATABASE IF EXISTS preempt_bench_detect_{n}"))
                server.dispose()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
