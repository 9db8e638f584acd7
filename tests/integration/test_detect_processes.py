"""Two `preempt detect --once` processes on one cycle: the jobs are split between them, every
location is judged exactly once, and the cycle has one summary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from preempt.storage.tables import detect_cycles
from tests.cli_helpers import REPO
from tests.integration.test_detect_support import (
    NOW_S,
    job_rows,
    seed_locations,
    state_rows,
    write_weather,
)

pytestmark = pytest.mark.integration


def test_two_detect_processes_share_a_cycle_without_overlap(
    mysql_url: str, mysql_engine: Engine, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    ids = seed_locations(mysql_engine, 60)
    write_weather(mysql_engine, ids, first_s=NOW_S - 7 * 86400, last_s=NOW_S)
    config = tmp_path / "config.yaml"
    config.write_text("detect:\n  method: seasonal\n  batch_locations: 3\n  block_s: 0.2\n"
                      "ml:\n  bucket_locations: 3\n", encoding="utf-8")
    env = {**os.environ, "PREEMPT_DATABASE_URL": mysql_url, "PREEMPT_REDIS_URL": redis_url,
           "PREEMPT_REDIS_PREFIX": redis_prefix, "PREEMPT_CONFIG": str(config),
           "PREEMPT_MODELS_DIR": str(tmp_path / "models")}
    procs = [subprocess.Popen([sys.executable, "-m", "preempt", "detect", "--once"], env=env,
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    with mysql_engine.connect() as conn:
        cycles = conn.execute(sa.select(detect_cycles)).all()
    assert len(cycles) == 1 and cycles[0].finished_at is not None
    jobs = job_rows(mysql_engine)
    assert [j.job_no for j in jobs] == list(range(len(jobs)))
    assert all(j.attempts == 1 for j in jobs)  # no job judged twice
    assert sum(j.locations for j in jobs) == 60  # none skipped
    assert len({j.worker for j in jobs}) == 2, outputs  # both processes took jobs
    assert len(state_rows(mysql_engine)) == 300
    summaries = [line for out, _ in outputs for line in out.splitlines()
                 if line.startswith("detect cycle")]
    assert len(summaries) == 1 and "60 locations (20 jobs, 2 workers)" in summaries[0]
