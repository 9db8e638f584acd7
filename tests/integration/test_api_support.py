"""Shared pieces of the API tests: settings with tokens, an app on the test database, and data
written with the storage writers the services use. (No tests here.)

Test modules import the fixtures by their function names (`client_fixture`, `seeded_fixture`)
and use them as `client` and `seeded`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from preempt.api import create_app
from preempt.api.security import hash_token
from preempt.config import ApiToken, AuthSettings, ServerSettings, Settings
from preempt.domain import Anomaly, NewLocation, Sample, Suggestion
from preempt.storage.anomalies import upsert_anomalies
from preempt.storage.locations import insert_locations, list_locations
from preempt.storage.metrics import write_samples
from preempt.storage.suggestions import upsert_suggestions

ADMIN, EDITOR, VIEWER = "admin-secret", "editor-secret", "viewer-secret"
TOKENS = (
    ApiToken(name="alice", role="admin", sha256=hash_token(ADMIN)),
    ApiToken(name="eddie", role="editor", sha256=hash_token(EDITOR)),
    ApiToken(name="vera", role="viewer", sha256=hash_token(VIEWER)),
)
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0, tzinfo=None)
ODD_NAME = "São Tomé 'x'; DROP TABLE locations; --"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_settings(
    url: str, *, reads_open: bool = True, redis_url: str | None = None, prefix: str = "",
    static_dir: Path = Path("does-not-exist"), cors: tuple[str, ...] = (),
) -> Settings:
    return Settings(
        database_url=url, redis_url=redis_url, redis_prefix=prefix,
        server=ServerSettings(
            auth=AuthSettings(reads_open=reads_open, tokens=TOKENS), static_dir=static_dir,
            cors_origins=cors, events_poll_s=0.2,
        ),
    )


def make_app(engine: Engine, *, reads_open: bool = True, static_dir: Path | None = None,
             cors: tuple[str, ...] = ()) -> FastAPI:
    url = engine.url.render_as_string(hide_password=False)
    settings = make_settings(url, reads_open=reads_open, cors=cors,
                             static_dir=static_dir or Path("does-not-exist"))
    return create_app(settings, engine=engine)


def seed(engine: Engine) -> dict[str, int]:
    """Tokyo (samples, 3 anomalies, 2 suggestions), Delhi (1 anomaly), and an odd name."""
    with engine.begin() as conn:
        insert_locations(conn, [NewLocation("Tokyo", 35.6762, 139.6503),
                                NewLocation("Delhi", 28.7041, 77.1025),
                                NewLocation(ODD_NAME, 0.3, 6.7)])
    with engine.connect() as conn:
        ids = {loc.name: loc.id for loc in list_locations(conn)}
    tokyo, delhi = ids["Tokyo"], ids["Delhi"]
    samples = [
        Sample(tokyo, metric, NOW - timedelta(hours=h), base + h * 0.1)
        for h in range(48)
        for metric, base in (("temperature_2m", 10.0), ("wind_speed_10m", 5.0))
    ]
    anomalies = [
        Anomaly(tokyo, "temperature_2m", NOW - timedelta(hours=h), 40.0, score, sev,
                ("seasonal", "rules"), "too hot", z_score=5.0, expected=12.0, lower=8.0,
                upper=16.0)
        for h, score, sev in ((1, 0.9, "high"), (5, 0.5, "medium"), (30, 0.3, "low"))
    ] + [Anomaly(delhi, "wind_speed_10m", NOW - timedelta(hours=2), 90.0, 0.7, "high",
                 ("iforest",), "gusty")]
    suggestions = [
        Suggestion(tokyo, "temperature_2m", "above", ">", 30.0, 0.8, "Temperature above 30 °C",
                   3, caught=3, missed=0, false_fires=1, fires_per_week=0.5),
        Suggestion(tokyo, "wind_speed_10m", "above", ">", 60.0, 0.6, "Wind above 60 km/h", 4),
    ]
    with engine.begin() as conn:
        write_samples(conn, samples)
        upsert_anomalies(conn, anomalies)
        upsert_suggestions(conn, suggestions)
    return ids


@pytest.fixture(name="seeded")
def seeded_fixture(mysql_engine: Engine) -> dict[str, int]:
    return seed(mysql_engine)


@pytest.fixture(name="client")
def client_fixture(mysql_engine: Engine) -> Iterator[TestClient]:
    with TestClient(make_app(mysql_engine)) as test_client:
        yield test_client
