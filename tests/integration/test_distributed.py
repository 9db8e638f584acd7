"""The distributed stack: every service its own process on MariaDB + Redis + the emulator.

One store and one ML trainer are killed with SIGKILL mid-run while a second copy of each keeps
going: every published sample is stored exactly once, and detection still gets its ML results.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.cli_helpers import REPO, free_port, run_preempt, start_preempt

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LOCATIONS = 30
CONFIG = """
collect:
  interval_s: 1h
store:
  batch_size: 4
  claim_idle_s: 3s
detect:
  interval_s: 20s
  ml_timeout_s: 90s
ml:
  max_model_age_s: 24h
"""


def _wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


@pytest.fixture()
def stack(tmp_path: Path, mysql_url: str, mysql_engine: Engine, redis_url: str,
          redis_prefix: str) -> Iterator[dict[str, object]]:
    csv_lines = (REPO / "data" / "locations.csv").read_text(encoding="utf-8").splitlines()
    csv_path = tmp_path / "locations.csv"
    csv_path.write_text("\n".join(csv_lines[: LOCATIONS + 1]) + "\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    sim_port = free_port()
    env = {"PREEMPT_DATABASE_URL": mysql_url, "PREEMPT_REDIS_URL": redis_url,
           "PREEMPT_REDIS_PREFIX": redis_prefix, "PREEMPT_CONFIG": str(config),
           "OPEN_METEO_URL": f"http://127.0.0.1:{sim_port}/v1/forecast",
           "PREEMPT_MODELS_DIR": str(tmp_path / "models")}
    seeded = run_preempt("seed", "--csv", str(csv_path), env=env)
    assert seeded.returncode == 0, seeded.stderr
    processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(name: str, *args: str) -> subprocess.Popen[bytes]:
        processes[name] = start_preempt(*args, env=env, log=tmp_path / f"{name}.log")
        return processes[name]

    start("sim", "openmeteo-sim", "--port", str(sim_port), "--no-rate-limit",
          "--anomaly-rate", "0.5")
    _wait_for(lambda: _answers(f"http://127.0.0.1:{sim_port}/v1/forecast"), 30, "the emulator")
    try:
        yield {"env": env, "start": start, "logs": tmp_path, "engine": mysql_engine}
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 400  # no coordinates: a clear 400
    except httpx.HTTPError:
        return False


def test_kill_9_of_a_store_and_a_trainer_loses_nothing_and_doubles_nothing(
    stack: dict[str, object],
) -> None:
    start: Callable[..., subprocess.Popen[bytes]] = stack["start"]  # type: ignore[assignment]
    engine: Engine = stack["engine"]  # type: ignore[assignment]
    logs: Path = stack["logs"]  # type: ignore[assignment]
    env: dict[str, str] = stack["env"]  # type: ignore[assignment]

    # Publish the 7-day bootstrap first, so that the stores have a backlog to share.
    collected = run_preempt("collect", "--once", env=env, timeout_s=180)
    assert collected.returncode == 0, collected.stderr
    counted = re.search(r"(\d+) samples in", collected.stdout)
    assert counted, collected.stdout
    published = int(counted.group(1))
    assert published > LOCATIONS * 5 * 160

    doomed_store = start("store-1", "store")
    start("store-2", "store")
    _wait_for(lambda: _scalar(engine, "SELECT COUNT(*) FROM metrics") > 0, 60, "first rows")
    doomed_store.send_signal(signal.SIGKILL)
    _wait_for(lambda: _scalar(engine, "SELECT COUNT(*) FROM metrics") == published, 120,
              f"all {published} samples stored by the surviving store")

    doomed_trainer = start("trainer-1", "ml-trainer")
    start("trainer-2", "ml-trainer")
    start("detect", "detect", "--every", "20s")
    _wait_for(lambda: "ml_input" in (logs / "trainer-1.log").read_text()
              or (logs / "detect.log").read_text().count("planned") > 0, 60, "a detect cycle")
    time.sleep(2)
    doomed_trainer.send_signal(signal.SIGKILL)
    _wait_for(lambda: _scalar(engine, "SELECT COUNT(*) FROM anomalies "
                                      "WHERE methods LIKE '%iforest%'") > 0, 180,
              "anomalies confirmed by the Isolation Forest (ML results after the kill)")

    assert _scalar(engine, "SELECT COUNT(*) FROM metrics") == published
    assert _scalar(engine, "SELECT COUNT(*) FROM (SELECT 1 FROM metrics GROUP BY location_id, "
                           "metric_type, timestamp HAVING COUNT(*) > 1) d") == 0
    assert _scalar(engine, "SELECT COUNT(DISTINCT location_id) FROM metrics") == LOCATIONS
    assert _scalar(engine, "SELECT COUNT(*) FROM anomalies") > 0
