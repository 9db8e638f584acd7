"""`preempt up --demo`: every service in one process on SQLite and the in-process streams.

Within a bounded time the API serves metrics for every location, the injected anomalies and
suggestions; SIGINT stops it cleanly and a restart neither re-bootstraps nor duplicates.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.cli_helpers import REPO, free_port, start_preempt

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LOCATIONS = 40
START_TIMEOUT_S = 240


def _small_csv(path: Path) -> Path:
    lines = (REPO / "data" / "locations.csv").read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[: LOCATIONS + 1]) + "\n", encoding="utf-8")
    return path


def _config(path: Path) -> Path:
    # Short cadences so a test sees several cycles; everything else is the shipped config.
    text = (REPO / "config.yaml").read_text()
    text = text.replace("interval_s: 5m ", "interval_s: 20s")
    text = text.replace("interval_s: 10m", "interval_s: 30s")
    path.write_text(text)
    return path


def _wait_for(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {
            "locations_with_metrics": conn.execute(
                "SELECT COUNT(DISTINCT location_id) FROM metrics").fetchone()[0],
            "metrics": conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0],
            "anomalies": conn.execute("SELECT COUNT(*) FROM anomalies").fetchone()[0],
            "suggestions": conn.execute("SELECT COUNT(*) FROM alarm_suggestions").fetchone()[0],
        }


def _stop(process: subprocess.Popen[bytes]) -> int:
    """Ctrl-C; 130 is the conventional exit status of a clean stop on SIGINT."""
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def test_up_demo_serves_everything_and_restarts_without_loss_or_duplicates(
    tmp_path: Path,
) -> None:
    port, sim_port = free_port(), free_port()
    csv_path = _small_csv(tmp_path / "locations.csv")
    args = ("up", "--demo", "--port", str(port), "--sim-port", str(sim_port), "--csv",
            str(csv_path), "--anomaly-rate", "0.5", "--config", str(_config(tmp_path / "c.yaml")))
    env = {"PREEMPT_VAR_DIR": str(tmp_path / "var"), "PREEMPT_MODELS_DIR": str(tmp_path / "m")}
    db = tmp_path / "var" / "preempt.db"
    log = tmp_path / "up.log"
    api = f"http://127.0.0.1:{port}"

    process = start_preempt(*args, env=env, cwd=tmp_path, log=log)
    try:
        def suggestions_served() -> bool:
            try:
                body = httpx.get(f"{api}/overview", timeout=5).json()
            except (httpx.HTTPError, ValueError):
                return False
            return db.exists() and _counts(db)["suggestions"] > 0 and bool(body)

        _wait_for(suggestions_served, START_TIMEOUT_S, "anomalies and suggestions")
        locations = httpx.get(f"{api}/locations", timeout=5).json()
        assert locations["count"] == LOCATIONS
        for location in locations["locations"]:
            series = httpx.get(f"{api}/metrics", params={"location": location["name"]},
                               timeout=5).json()
            assert series["count"] > 0, location["name"]
        anomalies = httpx.get(f"{api}/anomalies", params={"location": locations["locations"][0]
                                                          ["name"], "limit": 5}, timeout=5)
        assert anomalies.status_code == 200
        health = httpx.get(f"{api}/health", timeout=5).json()
        assert health["source"] == "simulated"
    finally:
        assert _stop(process) in (0, 130), log.read_text()[-3000:]
    before = _counts(db)
    assert before["locations_with_metrics"] == LOCATIONS
    assert "Traceback" not in log.read_text()

    restart_log = tmp_path / "restart.log"
    process = start_preempt(*args, env=env, cwd=tmp_path, log=restart_log)
    try:
        _wait_for(lambda: "collect: locations" in restart_log.read_text(), 120,
                  "the first collect cycle after the restart")
        time.sleep(5)
    finally:
        assert _stop(process) in (0, 130), restart_log.read_text()[-3000:]
    after = _counts(db)
    text = restart_log.read_text()
    assert "history" not in text.split("collect: locations", 1)[1].split("\n", 1)[0], (
        "a restart must not bootstrap the history again"
    )
    assert "Successfully inserted" not in text  # locations were not seeded twice
    assert after["metrics"] >= before["metrics"]
    assert after["anomalies"] >= before["anomalies"]
    with sqlite3.connect(db) as conn:
        duplicates = conn.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM metrics GROUP BY location_id, metric_type, "
            "timestamp HAVING COUNT(*) > 1)").fetchone()[0]
    assert duplicates == 0
