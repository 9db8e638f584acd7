"""GET /health: dependencies, heartbeats, stream lag, source; 503 when Redis is unreachable."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from preempt.api import create_app
from preempt.api.schemas import Health
from preempt.storage.heartbeats import record_heartbeat
from preempt.streams import names
from preempt.streams.redis_bus import RedisBus

from .test_api_support import make_settings

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_healthy_with_database_redis_heartbeats_and_lag(
    mysql_engine: Engine, redis_url: str, redis_prefix: str
) -> None:
    with mysql_engine.begin() as conn:
        record_heartbeat(conn, "store", info={"stored": 10}, instance="host:1")
    bus = RedisBus.from_url(redis_url, prefix=redis_prefix)
    bus.ensure_group(names.WEATHER_METRICS, "store")
    bus.add(names.WEATHER_METRICS, b"{}")
    settings = make_settings(_url(mysql_engine), redis_url=redis_url, prefix=redis_prefix)
    with TestClient(create_app(settings, engine=mysql_engine)) as client:
        response = client.get("/health")
    bus.close()
    assert response.status_code == 200
    body = response.json()
    Health.model_validate(body)
    assert body["status"] == "healthy"
    assert body["dependencies"]["database"]["status"] == "ok"
    assert body["dependencies"]["redis"]["status"] == "ok"
    assert body["services"][0]["service"] == "store"
    assert body["services"][0]["info"] == {"stored": 10}
    weather = next(s for s in body["streams"] if s["stream"] == names.WEATHER_METRICS)
    assert weather["length"] == 1 and weather["group"] == "store"
    assert weather["lag"] in (1, None)  # None on a server too old to report lag


def test_503_when_redis_is_down(mysql_engine: Engine) -> None:
    settings = make_settings(_url(mysql_engine), redis_url=CLOSED_PORT_REDIS)
    with TestClient(create_app(settings, engine=mysql_engine)) as client:
        response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["dependencies"]["redis"]["status"] == "down"
    assert body["dependencies"]["database"]["status"] == "ok"


def test_503_when_database_is_down(mysql_engine: Engine) -> None:
    settings = make_settings("mysql+pymysql://root@127.0.0.1:1/nothing")
    with TestClient(create_app(settings)) as client:
        response = client.get("/health")
        data = client.get("/locations")
    assert response.status_code == 503
    assert response.json()["dependencies"]["database"]["status"] == "down"
    assert data.status_code == 503 and "database" in data.json()["detail"]


def test_source_says_simulated_for_the_emulator(mysql_engine: Engine) -> None:
    settings = make_settings(_url(mysql_engine)).model_copy(deep=True)
    emulated = settings.model_copy(update={"openmeteo": settings.openmeteo.model_copy(
        update={"url": "http://127.0.0.1:8090/v1/forecast"})})
    with TestClient(create_app(emulated, engine=mysql_engine)) as client:
        assert client.get("/health").json()["source"] == "simulated"
    with TestClient(create_app(settings, engine=mysql_engine)) as client:
        assert client.get("/health").json()["source"] == "open-meteo"
