"""Alarm figures on MariaDB; prints JSON.

(a) evaluation cost per 10,000 samples with 5,000 active rules: the pure state machine alone,
    and one whole evaluation transaction (read new samples, rules, states; write states,
    transitions, queued deliveries; advance the watermark), median of several rounds;
(b) firing latency from sample stored (store's writer committed) to webhook received by a
    local HTTP receiver, over 1,000 firing transitions, with the evaluation loop and delivery
    worker running as in `preempt alarms` (for each --intervals value).

    .venv/bin/python bench/bench_alarms.py [--intervals 10,1] [--transitions 1000]
        [--skip-evaluation]   (--intervals "" skips the latency part)

Needs MariaDB (PREEMPT_TEST_MYSQL_URL, default mysql+pymysql://root@127.0.0.1:3306); uses a
throwaway database and drops it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from preempt.alarms.evaluate import SampleBatch, evaluate
from preempt.config import AlarmChannelSettings, AlarmSettings
from preempt.domain import DEFAULT_MONITORED_FIELDS, NewLocation, Sample
from preempt.services.alarms import AlarmService
from preempt.storage import alarms as store
from preempt.storage import migrate
from preempt.storage.engine import create_engine_for, ensure_database
from preempt.storage.locations import insert_locations, list_locations
from preempt.storage.metrics import write_samples
from preempt.storage.tables import alarm_rules, metadata

SERVER = os.environ.get("PREEMPT_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
LOCATIONS = 1000  # x 5 metrics = 5,000 rules
SAMPLES = 10_000  # 1,000 locations x 5 metrics x 2 readings


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def fresh_database() -> tuple[Engine, str]:
    name = f"preempt_bench_alarms_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = f"{SERVER}/{name}?charset=utf8mb4"
    ensure_database(url)
    engine = create_engine_for(url)
    migrate.upgrade(engine)
    return engine, name


def drop_database(engine: Engine, name: str) -> None:
    engine.dispose()
    server = create_engine_for(SERVER)
    with server.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    server.dispose()


def empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def setup_rules(engine: Engine, *, threshold: float = 50.0) -> list[int]:
    """1,000 locations, one '> threshold' rule per location and metric; returns location ids."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        insert_locations(conn, [NewLocation(f"City {i:04d}", i % 90, i % 180)
                                for i in range(LOCATIONS)])
        ids = [loc.id for loc in list_locations(conn)]
        conn.execute(alarm_rules.insert(), [
            {"location_id": loc, "metric_type": metric, "operator": ">",
             "threshold": threshold, "hysteresis": 1.0, "for_s": 0, "severity": "medium",
             "name": f"{metric} {loc}", "channels": "[]", "enabled": True,
             "created_by": "bench", "created_at": now, "updated_at": now}
            for loc in ids for metric in DEFAULT_MONITORED_FIELDS
        ])
    return ids


def batch_samples(ids: list[int], start: datetime, rng: random.Random,
                  hot_fraction: float = 0.01) -> list[Sample]:
    out = []
    for k in range(SAMPLES // (len(ids) * len(DEFAULT_MONITORED_FIELDS))):
        for loc in ids:
            for metric in DEFAULT_MONITORED_FIELDS:
                value = 60.0 if rng.random() < hot_fraction else rng.uniform(0, 40)
                out.append(Sample(loc, metric, start + timedelta(minutes=5 * k), value))
    return out


def bench_evaluation(engine: Engine, rounds: int = 7) -> dict[str, Any]:
    empty(engine)
    ids = setup_rules(engine)
    settings = AlarmSettings(max_sample_age_s=10 * 86400)
    rng = random.Random(1)
    with engine.connect() as conn:
        rules = [r.core() for r in store.list_rules(conn, enabled_only=True)]
    start = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(days=2)
    pure = []
    sample = batch_samples(ids, start, rng)
    batch = SampleBatch.from_samples(sample)
    for _ in range(rounds):
        began = time.perf_counter()
        evaluate(rules, {}, batch)
        pure.append(time.perf_counter() - began)
    service = AlarmService(settings, engine=engine, deliver=False)
    service.run_once()  # warm the rule cache and the cursor row
    cycles, transitions = [], []
    for r in range(rounds):
        samples = batch_samples(ids, start + timedelta(hours=r + 1), rng)
        with engine.begin() as conn:
            write_samples(conn, samples)
        began = time.perf_counter()
        result = service.run_once()
        cycles.append(time.perf_counter() - began)
        assert result.samples == SAMPLES, result
        transitions.append(result.transitions)
    return {
        "samples": SAMPLES, "active_rules": len(rules), "rounds": rounds,
        "pure_state_machine_ms_median": round(statistics.median(pure) * 1000, 2),
        "evaluation_transaction_ms_median": round(statistics.median(cycles) * 1000, 1),
        "evaluation_transaction_ms_max": round(max(cycles) * 1000, 1),
        "transitions_per_round_median": statistics.median(transitions),
    }


class Receiver:
    """Local webhook receiver: transition arrival time per rule id."""

    def __init__(self) -> None:
        self.arrivals: dict[int, float] = {}
        self.count = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if body["state"] == "firing":
                    owner.arrivals.setdefault(body["rule"]["id"], time.perf_counter())
                owner.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def bench_latency(engine: Engine, *, interval_s: float, transitions: int,
                  per_round: int) -> dict[str, Any]:
    empty(engine)
    setup_rules(engine)
    receiver = Receiver()
    settings = AlarmSettings(
        interval_s=interval_s, worker_poll_s=1.0,
        channels=(AlarmChannelSettings(name="hook", kind="webhook", url=receiver.url),),
    )
    with engine.connect() as conn:
        rules = store.list_rules(conn)
    by_key = {(r.location_id, r.metric_type): r.id for r in rules}
    service = AlarmService(settings, engine=engine)
    loop = threading.Thread(target=service.run, daemon=True)
    loop.start()
    rng = random.Random(2)
    keys = list(by_key)
    rng.shuffle(keys)
    stored: dict[int, float] = {}
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    began = time.perf_counter()
    try:
        for start in range(0, transitions, per_round):
            time.sleep(rng.uniform(0, interval_s))  # arrive at any phase of the loop
            chunk = keys[start : start + per_round]
            with engine.begin() as conn:
                write_samples(conn, [Sample(loc, metric, now, 60.0) for loc, metric in chunk])
            committed = time.perf_counter()
            for key in chunk:
                stored[by_key[key]] = committed
            deadline = time.monotonic() + interval_s * 3 + 30
            while (time.monotonic() < deadline
                   and not all(by_key[k] in receiver.arrivals for k in chunk)):
                time.sleep(0.005)
    finally:
        service.drain()
        loop.join(10)
        receiver.server.shutdown()
    latencies = [receiver.arrivals[r] - t for r, t in stored.items() if r in receiver.arrivals]
    return {
        "interval_s": interval_s, "firing_transitions": len(stored),
        "webhooks_received": len(latencies), "samples_per_store_batch": per_round,
        "latency_s_median": round(statistics.median(latencies), 3),
        "latency_s_p99": round(percentile(latencies, 99), 3),
        "latency_s_max": round(max(latencies), 3),
        "wall_s": round(time.perf_counter() - began, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", default="10,1",
                        help="Evaluation intervals (s) to measure latency with.")
    parser.add_argument("--transitions", type=int, default=1000)
    parser.add_argument("--per-round", type=int, default=100,
                        help="Firing samples per store commit.")
    parser.add_argument("--skip-evaluation", action="store_true")
    args = parser.parse_args()
    engine, name = fresh_database()
    try:
        report: dict[str, Any] = {"database": "mariadb", "load_average_at_start":
                                  os.getloadavg()[0], "cpus": os.cpu_count(), "latency": []}
        if not args.skip_evaluation:
            report["evaluation"] = bench_evaluation(engine)
        for interval in (float(x) for x in args.intervals.split(",") if x):
            report["latency"].append(bench_latency(
                engine, interval_s=interval, transitions=args.transitions,
                per_round=args.per_round))
    finally:
        drop_database(engine, name)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
