"""GET /metrics' series as JSON text from the database, the API's autocommit read pool, reads
that never serve data older than the last committed write, and the server's start-up."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from preempt.api.context import read_engine_for
from preempt.api.schemas import MetricsOut
from preempt.api.series import iso_utc, read_series, read_series_json
from preempt.domain import Anomaly, NewLocation
from preempt.storage.anomalies import upsert_anomalies
from preempt.storage.locations import insert_locations, list_locations
from preempt.storage.metrics import SampleColumns, write_columns

from .test_api_support import (  # noqa: F401 - fixtures
    NOW,
    client_fixture,
    make_app,
    seed,
    seeded_fixture,
)

METRICS = ("temperature_2m", "precipitation", "wind_speed_10m")
# Values whose text form is easy to get wrong: shortest round trip, exponents, integers.
ODD_VALUES = (0.1 + 0.2, 1e-7, 1.5e20, -3.25, 12.0, 123456789.12345679, -0.0, 2.5e-300)


def _fill(engine: Engine) -> int:
    """One location: hourly samples for two days, then 5-minute ones for the last hour, of two
    metrics (precipitation stays empty)."""
    with engine.begin() as conn:
        insert_locations(conn, [NewLocation("Series Town", 1.0, 2.0)])
        loc = list_locations(conn)[0].id
        hourly = [NOW - timedelta(hours=48 - h) for h in range(47)]
        recent = [NOW - timedelta(minutes=60 - 5 * k) for k in range(12)]
        times = hourly + recent
        odd = len(ODD_VALUES)
        temps = [ODD_VALUES[i % odd] + i // odd for i in range(len(times))]
        winds = [float(i) / 3 for i in range(len(times))]
        write_columns(conn, [SampleColumns(loc, times, {"temperature_2m": temps,
                                                         "wind_speed_10m": winds})])
    return loc


def _window() -> tuple[datetime, datetime]:
    until = NOW.replace(tzinfo=UTC) + timedelta(minutes=1)
    return until - timedelta(hours=72), until


def _as_rows(engine: Engine, location: int | str) -> dict[str, list[tuple[str, float]]]:
    since, until = _window()
    with engine.connect() as conn:
        rows = read_series(conn, location, METRICS, since=since, until=until)
    return {m: list(zip(times, values, strict=True)) for m, (times, values) in rows.items()}


def _as_json(engine: Engine, location: int | str,
             **kwargs: int) -> dict[str, list[tuple[str, float]]]:
    since, until = _window()
    with engine.connect() as conn:
        found = read_series_json(conn, location, METRICS, since=since, until=until, **kwargs)
    assert list(found) == list(METRICS)
    out = {}
    for metric, series in found.items():
        points = json.loads(series.data)
        assert series.count == len(points)
        assert all(list(p) == ["timestamp", "value"] for p in points)
        out[metric] = [(p["timestamp"], float(p["value"])) for p in points]
    return out


def test_series_json_is_the_row_form_exactly(engine: Engine) -> None:
    loc = _fill(engine)
    expected = _as_rows(engine, loc)
    assert len(expected["temperature_2m"]) == 59 and expected["precipitation"] == []
    assert {v for _, v in expected["temperature_2m"]} >= set(ODD_VALUES) - {-0.0}
    for location in (loc, "Series Town"):
        # float == float: each value reads back as the very same double
        assert _as_json(engine, location) == expected


def test_metrics_body_is_the_same_on_sqlite_and_mariadb(engine: Engine) -> None:
    """The embedded (SQLite, row form) and the server (MariaDB, JSON text) paths agree."""
    seed(engine)
    with TestClient(make_app(engine)) as client:
        body = client.get("/metrics", params={"location": "Tokyo", "hours": 48}).json()
    MetricsOut.model_validate(body)
    expected = {
        metric: [{"timestamp": iso_utc((NOW - timedelta(hours=h)).replace(tzinfo=UTC)),
                  "value": base + h * 0.1} for h in range(47, -1, -1)]
        for metric, base in (("temperature_2m", 10.0), ("wind_speed_10m", 5.0))
    }
    assert {m: s["data"] for m, s in body["metrics"].items() if s["count"]} == expected
    assert [m for m, s in body["metrics"].items() if not s["count"]] == [
        "relative_humidity_2m", "precipitation", "dew_point_2m"]
    assert body["count"] == 96 and body["bands"] is False


def test_series_longer_than_the_text_limit_is_read_as_rows(mysql_engine: Engine) -> None:
    loc = _fill(mysql_engine)
    expected = _as_rows(mysql_engine, loc)
    since, until = _window()
    with mysql_engine.connect() as conn:
        whole = read_series_json(conn, loc, METRICS, since=since, until=until)
    text = whole["wind_speed_10m"].data[1:-1]
    # Cut mid-object, and exactly after the 3rd object (a text that still ends with '}').
    after_third = [i for i, ch in enumerate(text) if ch == ord("}")][2] + 1
    for limit in (200, after_third):
        assert _as_json(mysql_engine, loc, max_text_bytes=limit) == expected


def test_metrics_answers_with_samples_written_after_earlier_reads(
    client: TestClient, seeded: dict[str, int], mysql_engine: Engine
) -> None:
    """No response is older than the last commit: pooled read connections keep no snapshot."""
    params = {"location": "Tokyo", "type": "temperature_2m", "hours": 3}
    for _ in range(3):  # the pool's connection has served reads before the write
        before = client.get("/metrics", params=params).json()
    assert before["count"] == 3
    newest = NOW + timedelta(minutes=-30)
    with mysql_engine.begin() as conn:  # the store's writer: one new sample, one corrected
        write_columns(conn, [SampleColumns(seeded["Tokyo"], [newest, NOW - timedelta(hours=1)],
                                           {"temperature_2m": [99.5, -7.25]})])
    after = client.get("/metrics", params=params).json()
    points = after["metrics"]["temperature_2m"]["data"]
    assert after["count"] == 4
    assert [p["value"] for p in points] == [10.0 + 2 * 0.1, -7.25, 99.5, 10.0]


def test_anomalies_answer_with_detections_written_after_earlier_reads(
    client: TestClient, seeded: dict[str, int], mysql_engine: Engine
) -> None:
    for _ in range(3):
        before = client.get("/anomalies", params={"location": "Delhi"}).json()
    assert before["count"] == 1
    with mysql_engine.begin() as conn:
        upsert_anomalies(conn, [Anomaly(seeded["Delhi"], "temperature_2m", NOW, 51.0, 0.9,
                                        "high", ("rules",), "too hot")])
    after = client.get("/anomalies", params={"location": "Delhi"}).json()
    assert after["count"] == 2 and after["anomalies"][0]["value"] == 51.0


def _connection_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar_one())


def _kill(engine: Engine, connection_id: int) -> None:
    with engine.connect() as admin:
        admin.exec_driver_sql(f"KILL {int(connection_id)}")


def test_read_pool_replaces_a_connection_the_server_dropped_while_idle(
    mysql_engine: Engine,
) -> None:
    reader = read_engine_for(mysql_engine, idle_ping_s=0.0)
    try:
        first = _connection_id(reader)
        _kill(mysql_engine, first)
        assert _connection_id(reader) != first
    finally:
        reader.dispose()


def test_read_pool_does_not_ping_a_connection_in_steady_use(mysql_engine: Engine) -> None:
    """The counterpart: within the idle threshold there is no ping, so a dropped connection
    fails its next statement (and the pool then recovers)."""
    reader = read_engine_for(mysql_engine, idle_ping_s=3600.0)
    try:
        first = _connection_id(reader)
        _kill(mysql_engine, first)
        with pytest.raises(OperationalError):
            _connection_id(reader)
        assert _connection_id(reader) != first
    finally:
        reader.dispose()


def test_read_pool_is_autocommit(mysql_engine: Engine) -> None:
    reader = read_engine_for(mysql_engine)
    try:
        with reader.connect() as conn:
            assert conn.exec_driver_sql("SELECT @@autocommit").scalar_one() == 1
            assert conn.scalar(sa.text("SELECT 1")) == 1
    finally:
        reader.dispose()


def test_server_start_takes_startup_objects_out_of_full_collections(
    sqlite_engine: Engine,
) -> None:
    with TestClient(make_app(sqlite_engine)) as client:
        assert client.get("/health").status_code in (200, 503)
        assert gc.get_freeze_count() > 10_000
