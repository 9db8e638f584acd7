"""`preempt store` as separate OS processes on real Redis and MariaDB: scale-out and crashes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from preempt.storage.heartbeats import list_heartbeats
from preempt.streams import RedisBus, dead_stream, names
from tests.integration.test_store import T0, TcpProxy, rows, wait_for, weather

pytestmark = [pytest.mark.integration, pytest.mark.slow]

S = names.WEATHER_METRICS
StartStore = Callable[..., "subprocess.Popen[str]"]


def payloads(samples: int) -> list[bytes]:
    """Entries of 168 hours x 5 metrics (a 7-day bootstrap) holding exactly `samples`."""
    out = []
    for loc, start in enumerate(range(0, samples, 840), start=1):
        hours = min(840, samples - start) // 5
        out.append(weather(loc, hours, start=T0).encode())
    return out


@pytest.fixture()
def start_store(tmp_path: Path, redis_url: str, redis_prefix: str) -> Iterator[StartStore]:
    """Start `preempt store` on a database URL; claim_idle_s is 60s unless given."""
    procs: list[subprocess.Popen[str]] = []

    def start(database_url: str, claim_idle: str = "60s") -> subprocess.Popen[str]:
        config = tmp_path / f"store-{len(procs)}.yaml"
        config.write_text(f"store:\n  batch_rows: 5000\n  block_s: 0.2\n"
                          f"  claim_idle_s: {claim_idle}\n  summary_every_s: 1h\n"
                          f"  heartbeat_every_s: 1s\n  retry_max_s: 0.5\n")
        env = {**os.environ, "PREEMPT_DATABASE_URL": database_url,
               "PREEMPT_REDIS_URL": redis_url, "PREEMPT_REDIS_PREFIX": redis_prefix,
               "PREEMPT_CONFIG": str(config)}
        env.pop("DB_HOST", None)
        env.pop("REDIS_HOST", None)
        proc = subprocess.Popen(
            [sys.executable, "-c", "from preempt.cli import main; main()", "store"],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def beating(engine: Engine, proc: subprocess.Popen[str]) -> bool:
    """The process has connected to both Redis and the database and is consuming."""
    with engine.connect() as conn:
        return any(b.service == "store" and b.instance.endswith(f":{proc.pid}")
                   for b in list_heartbeats(conn))


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err[-2000:]
    return out


def stored_by(output: str) -> int:
    match = re.search(r"stored ([\d,]+) rows", output)
    assert match, output
    return int(match.group(1).replace(",", ""))


def test_two_processes_store_100000_samples_exactly_once(
    start_store: StartStore, mysql_url: str, mysql_engine: Engine, redis_url: str,
    redis_prefix: str,
) -> None:
    first, second = start_store(mysql_url), start_store(mysql_url)
    wait_for(lambda: beating(mysql_engine, first) and beating(mysql_engine, second), 60)
    bus = RedisBus.from_url(redis_url, prefix=redis_prefix)
    bus.add_many(S, payloads(100_000))
    wait_for(lambda: rows(mysql_engine) >= 100_000, 120)
    wait_for(lambda: bus.pending_entries(S, "store") == [], 10)
    outputs = [stop(first), stop(second)]
    assert rows(mysql_engine) == 100_000
    with mysql_engine.connect() as conn:
        distinct = conn.execute(sa.text(
            "SELECT COUNT(*) FROM (SELECT DISTINCT location_id, metric_type, timestamp "
            "FROM metrics) AS d")).scalar_one()
    assert distinct == 100_000
    shares = [stored_by(out) for out in outputs]
    assert sum(shares) == 100_000  # no entry was processed twice (no claims at 60s idle)
    assert min(shares) > 0  # both did part of the work
    assert bus.length(dead_stream(S)) == 0
    bus.close()


def test_a_killed_consumers_batch_is_claimed_and_stored_by_another(
    start_store: StartStore, mysql_url: str, mysql_engine: Engine, redis_url: str,
    redis_prefix: str,
) -> None:
    proxy = TcpProxy(3306)
    proxy.start()
    try:
        victim = start_store(
            mysql_url.replace("127.0.0.1:3306", f"127.0.0.1:{proxy.port}"))
        wait_for(lambda: beating(mysql_engine, victim), 60)
        proxy.stop()  # its next write fails: it holds its batch, retrying, unacknowledged
        bus = RedisBus.from_url(redis_url, prefix=redis_prefix)
        bus.add_many(S, payloads(20_000))
        wait_for(lambda: len(bus.pending_entries(S, "store")) > 0, 30)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        held = bus.pending_entries(S, "store")
        assert held and rows(mysql_engine) == 0
        survivor = start_store(mysql_url, claim_idle="1s")
        wait_for(lambda: rows(mysql_engine) >= 20_000, 60)
        wait_for(lambda: bus.pending_entries(S, "store") == [], 10)
        out = stop(survivor)
        assert rows(mysql_engine) == 20_000
        assert re.search(r"claimed [1-9]", out), out
        assert bus.length(dead_stream(S)) == 0
        bus.close()
    finally:
        proxy.stop()
