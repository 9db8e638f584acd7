"""GET /events over real HTTP: an anomaly written by detect's writer, a suggestion change and an
alarm state change written by the alarms evaluator arrive as events."""

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

from preempt.alarms.model import Transition
from preempt.domain import Anomaly, Suggestion
from preempt.storage.alarms import record_transitions
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


def test_sse_delivers_anomalies_suggestions_and_alarm_changes(
    server: str, mysql_engine: Engine
) -> None:
    ids = seed(mysql_engine)
    tokyo = ids["Tokyo"]
    fresh = Anomaly(tokyo, "wind_speed_10m", NOW - timedelta(minutes=5), 120.0, 0.95, "high",
                    ("rules",), "storm")
    changed = Suggestion(tokyo, "wind_speed_10m", "above", ">", 90.0, 0.9, "Wind above 90", 5)
    firing = Transition(7, "pending", "firing", NOW - timedelta(minutes=5), 120.0, 90.0)

    def write_later() -> None:
        time.sleep(0.7)
        with mysql_engine.begin() as conn:
            upsert_anomalies(conn, [fresh])
            upsert_suggestions(conn, [changed])
            record_transitions(conn, [(firing, tokyo, "wind_speed_10m", "firing")],
                               now=NOW)

    writer = threading.Thread(target=write_later)
    with httpx.Client(timeout=15) as http, http.stream(
        "GET", f"{server}/events", params={"location": "Tokyo", "timeout_s": 10}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        writer.start()
        events = _events(response, wanted=3, timeout_s=10)
    writer.join()
    kinds = {kind: data for kind, data in events}
    assert kinds["anomaly"]["metric_type"] == "wind_speed_10m"
    assert kinds["anomaly"]["value"] == 120.0
    assert kinds["suggestion"]["threshold"] == 90.0  # only new things: seeded rows are history
    assert kinds["alarm"]["alarm_id"] == 7
    assert (kinds["alarm"]["from_state"], kinds["alarm"]["to_state"]) == ("pending", "firing")
    assert kinds["alarm"]["location"] == "Tokyo"


def _ids(response: httpx.Response, wanted: int, timeout_s: float) -> list[str]:
    ids: list[str] = []
    deadline = time.monotonic() + timeout_s
    for line in response.iter_lines():
        if line.startswith("id: "):
            ids.append(line.removeprefix("id: "))
            if len(ids) >= wanted or time.monotonic() > deadline:
                break
    return ids


def test_last_event_id_resumes_after_the_alarm_changes_seen(
    server: str, mysql_engine: Engine
) -> None:
    tokyo = seed(mysql_engine)["Tokyo"]
    at = NOW - timedelta(minutes=10)
    first = Transition(3, "ok", "pending", at, 95.0, 90.0)
    second = Transition(3, "pending", "firing", at + timedelta(minutes=5), 99.0, 90.0)

    def record(transition: Transition) -> None:
        time.sleep(0.7)
        with mysql_engine.begin() as conn:
            record_transitions(conn, [(transition, tokyo, "wind_speed_10m", "firing")], now=NOW)

    writer = threading.Thread(target=record, args=(first,))
    with httpx.Client(timeout=15) as http:
        with http.stream("GET", f"{server}/events", params={"timeout_s": 10}) as response:
            writer.start()
            (resume_from,) = _ids(response, wanted=1, timeout_s=10)
        writer.join()
        record(second)  # while nobody listens
        with http.stream("GET", f"{server}/events", params={"timeout_s": 3},
                         headers={"Last-Event-ID": resume_from}) as response:
            events = _events(response, wanted=10, timeout_s=3)
        bad = http.get(f"{server}/events", headers={"Last-Event-ID": "1.2.3"})
    # Resuming is at-least-once for changes within the cursor's second; alarm ids are exact.
    alarms = [data["to_state"] for kind, data in events if kind == "alarm"]
    assert alarms == ["firing"]
    assert bad.status_code == 422
    assert "last-event-id" in bad.text.lower()
