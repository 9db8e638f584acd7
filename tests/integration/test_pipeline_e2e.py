"""End to end with the real commands: emulator → collect → store → detect + ml-trainer.

Injected anomalies (the emulator's ground truth at /_sim/labels) show up in the anomalies table
flagged by the right methods; suggestions appear where a metric had 3+ anomalies.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from preempt.storage.locations import list_locations
from preempt.storage.tables import alarm_suggestions, anomalies, detect_cycle_jobs
from tests.cli_helpers import REPO, free_port, run_preempt
from tests.integration.test_detect_support import METRICS, seed_locations

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture()
def emulator() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "preempt", "openmeteo-sim", "--port", str(port), "--seed", "11",
         "--anomaly-rate", "0.4", "--anomaly-kinds", "spike,extreme_heat,level_shift",
         "--no-rate-limit"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/_sim/stats", timeout=1.0)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(10)


def test_injected_anomalies_reach_the_anomalies_table(
    emulator: str, mysql_url: str, mysql_engine: Engine, redis_url: str, redis_prefix: str,
    tmp_path: Path,
) -> None:
    seed_locations(mysql_engine, 12)
    config = tmp_path / "config.yaml"
    config.write_text(
        "detect:\n  initial_judge_s: 3d\n  ml_timeout_s: 60s\n  block_s: 0.2\n"
        "ml:\n  block_s: 0.2\n", encoding="utf-8")
    env = {"PREEMPT_DATABASE_URL": mysql_url, "PREEMPT_REDIS_URL": redis_url,
           "PREEMPT_REDIS_PREFIX": redis_prefix, "PREEMPT_CONFIG": str(config),
           "PREEMPT_MODELS_DIR": str(tmp_path / "models"),
           "OPEN_METEO_URL": f"{emulator}/v1/forecast"}
    collected = run_preempt("collect", "--once", env=env)
    assert collected.returncode == 0, collected.stderr
    stored = run_preempt("store", "--until-idle", env=env)
    assert stored.returncode == 0, stored.stderr
    trainer = subprocess.Popen([sys.executable, "-m", "preempt", "ml-trainer"], cwd=REPO,
                               env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        detected = run_preempt("detect", "--once", env=env, timeout_s=240)
    finally:
        trainer.terminate()
        trainer.wait(30)
    assert detected.returncode == 0, detected.stderr
    assert "ML on" in detected.stdout, detected.stdout

    with mysql_engine.connect() as conn:
        locs = list_locations(conn)
        found = conn.execute(sa.select(anomalies.c.location_id, anomalies.c.metric_type,
                                       anomalies.c.timestamp, anomalies.c.methods)).all()
        suggestions = conn.execute(sa.select(alarm_suggestions)).all()
        jobs = conn.execute(sa.select(detect_cycle_jobs)).all()
        judged_from = conn.execute(sa.text(
            "SELECT MAX(timestamp) FROM metrics")).scalar_one()
    assert all(j.ml == "on" for j in jobs)
    labels = httpx.get(f"{emulator}/_sim/labels", params=[
        *[("latitude", str(loc.latitude)) for loc in locs],
        *[("longitude", str(loc.longitude)) for loc in locs]], timeout=30).json()["labels"]
    window_start = judged_from.replace(tzinfo=UTC).timestamp() - 3 * 86400 + 3600
    by_key: dict[tuple[int, str], dict[float, str]] = {}
    for loc_id, metric, ts, methods in found:
        by_key.setdefault((loc_id, metric), {})[ts.replace(tzinfo=UTC).timestamp()] = methods
    spikes = [lab for lab in labels if lab["kind"] == "spike" and lab["metric"] in METRICS
              and lab["start_s"] >= window_start
              and lab["end_s"] <= judged_from.replace(tzinfo=UTC).timestamp()]
    assert len(spikes) >= 5
    caught = []
    outcomes: list[tuple[str, bool, float]] = []
    for lab in spikes:
        loc = locs[lab["location_index"]]
        flagged = by_key.get((loc.id, lab["metric"]), {})
        hits = [m for t, m in flagged.items() if lab["start_s"] <= t < lab["end_s"]]
        if hits:
            caught.append(hits[0])
        outcomes.append((lab["metric"], bool(hits), round(lab["magnitude"] or 0, 1)))
    # Recall is the detection core's business (bench/eval_detection.py); here: they arrive.
    assert len(caught) >= 0.3 * len(spikes), (len(caught), sorted(outcomes))
    assert all({"seasonal", "iforest", "rules", "consistency"} & set(m.split(",")) for m in caught)
    assert any("iforest" in m for v in by_key.values() for m in v.values())
    # suggestions only where a metric of a location had 3+ anomalies, one per direction
    assert suggestions
    counts: dict[tuple[int, str], int] = {k: len(v) for k, v in by_key.items()}
    for s in suggestions:
        assert s.anomaly_count >= 3
        assert counts[(s.location_id, s.metric_type)] >= 3
    assert len({(s.location_id, s.metric_type, s.direction) for s in suggestions}) == len(
        suggestions)
