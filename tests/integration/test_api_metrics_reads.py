"""GET /metrics' read path on MariaDB: the JSON text from the server without the row form, the
driver-cursor read's errors and truncation check, and the handler's thread."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from preempt.api import series
from preempt.api.app import HANDLER_THREADS
from preempt.api.context import in_thread, read_engine_for

from .test_api_support import (  # noqa: F401 - fixtures
    NOW,
    client_fixture,
    make_app,
    seed,
    seeded_fixture,
)

METRICS = ("temperature_2m", "wind_speed_10m")


def _window() -> tuple[datetime, datetime]:
    until = NOW.replace(tzinfo=UTC) + timedelta(minutes=1)
    return until - timedelta(hours=72), until


def _no_row_form(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("read as rows")


def test_series_are_json_from_the_server_without_the_row_form(
    mysql_engine: Engine, seeded: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No warning on a whole series: the JSON form is taken as it is (no fallback read)."""
    monkeypatch.setattr(series, "read_series", _no_row_form)
    since, until = _window()
    with mysql_engine.connect() as conn:
        found = series.read_series_json(conn, "Tokyo", METRICS, since=since, until=until)
    assert [found[m].count for m in METRICS] == [48, 48]
    assert found["temperature_2m"].data.startswith(b'[{"timestamp":"')
    assert found["temperature_2m"].data.endswith(b'+00:00","value":10}]')  # the server's text


def test_a_cut_series_is_read_as_rows(
    mysql_engine: Engine, seeded: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    row_form = series.read_series

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return row_form(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(series, "read_series", counted)
    since, until = _window()
    with mysql_engine.connect() as conn:
        whole = series.read_series_json(conn, "Tokyo", METRICS, since=since, until=until)
        assert not calls
        cut = series.read_series_json(conn, "Tokyo", METRICS, since=since, until=until,
                                      max_text_bytes=100)
    assert len(calls) == 1
    assert {m: json.loads(s.data) for m, s in cut.items()} == {
        m: json.loads(s.data) for m, s in whole.items()}


def _connection_id(conn: sa.Connection) -> int:
    return int(conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar_one())


def test_a_dropped_connection_fails_as_sqlalchemy_error_and_is_replaced(
    mysql_engine: Engine, seeded: dict[str, int]
) -> None:
    """The API answers 503 on OperationalError; the pool does not hand the dead one out."""
    reader = read_engine_for(mysql_engine, idle_ping_s=3600.0)
    since, until = _window()
    try:
        with reader.connect() as conn:
            first = _connection_id(conn)
            with mysql_engine.connect() as admin:
                admin.exec_driver_sql(f"KILL {first}")
            with pytest.raises(OperationalError):
                series.read_series_json(conn, "Tokyo", METRICS, since=since, until=until)
            assert conn.invalidated
        with reader.connect() as conn:
            assert _connection_id(conn) != first
            found = series.read_series_json(conn, "Tokyo", METRICS, since=since, until=until)
        assert found["wind_speed_10m"].count == 48
    finally:
        reader.dispose()


def test_metrics_reads_run_in_the_apps_sized_threads(sqlite_engine: Engine) -> None:
    with TestClient(make_app(sqlite_engine)) as client:
        assert client.portal is not None
        names = {client.portal.call(in_thread, lambda: threading.current_thread().name)
                 for _ in range(3 * HANDLER_THREADS)}
    assert all(name.startswith("preempt-api") for name in names)
    assert len(names) <= HANDLER_THREADS


def test_metrics_answers_404_for_an_unknown_location(client: TestClient) -> None:
    """The not-found check raised in the read thread still becomes the API's 404."""
    response = client.get("/metrics", params={"location": "Atlantis"})
    assert response.status_code == 404
    assert response.json()["detail"] == "unknown location 'Atlantis'"
