"""GET /events over real HTTP: an anomaly written by detect's writer arrives as an event."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine

from preempt.domain import Anomaly, Suggestion
from preempt.storage.anomalies import upsert_anomalies
from preempt.storage.suggestions import upsert_suggestions

from .test_api_support import NOW, make_app, seed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def server(mysql_engine: Engine) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(make_app(mysql_engine), host="127.0.0.1", port=port,
                            log_level="warning", timeout_graceful_shutdown=1)
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def _events(
    response: httpx.Response, wanted: int, timeout_s: float
) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    kind = ""
    deadline = time.monotonic() + timeout_s
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            found.append((kind, json.loads(line.removeprefix("data: "))))
            if len(found) >= wanted:
                break
        if time.monotonic() > deadline:
            break
    return found


def test_sse_delivers_an_anomaly_inserted_by_detect(server: str, mysql_engine: Engine) -> None:
    ids = seed(mysql_engine)
    tokyo = ids["Tokyo"]
    fresh = Anomaly(tokyo, "wind_speed_10m", NOW - timedelta(minutes=5), 120.0, 0.95, "high",
                    ("rule",), "storm")
    changed = Suggestion(tokyo, "wind_speed_10m", "above", ">", 90.0, 0.9, "Wind above 90", 5)

    def write_later() -> None:
        time.sleep(0.7)
        with mysql_engine.begin() as conn:
            upsert_anomalies(conn, [fresh])
            upsert_suggestions(conn, [changed])

    writer = threading.Thread(target=write_later)
    with httpx.Client(timeout=15) as http, http.stream(
        "GET", f"{server}/events", params={"location": "Tokyo", "timeout_s": 10}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        writer.start()
        events = _events(response, wanted=2, timeout_s=10)
    writer.join()
    kinds = {kind: data for kind, data in events}
    assert kinds["anomaly"]["metric_type"] == "wind_speed_10m"
    assert kinds["anomaly"]["value"] == 120.0
    assert kinds["suggestion"]["threshold"] == 90.0  # only new things: seeded rows are history
