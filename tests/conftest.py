"""Shared fixtures: a throwaway migrated database per test session (MariaDB and SQLite) and a
Redis key prefix per test. Asserts can then be exact.

Environment: PREEMPT_TEST_MYSQL_URL (server URL without a database, default
mysql+pymysql://root@127.0.0.1:3306) and PREEMPT_TEST_REDIS_URL (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from preempt.storage import migrate
from preempt.storage.engine import create_engine_for, ensure_database
from preempt.storage.tables import metadata

MYSQL_SERVER_URL = os.environ.get("PREEMPT_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
REDIS_URL = os.environ.get("PREEMPT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def mysql_url() -> Iterator[str]:
    """URL of a fresh, migrated MariaDB database, dropped at the end of the session."""
    name = _unique("preempt_test")
    url = f"{MYSQL_SERVER_URL}/{name}?charset=utf8mb4"
    ensure_database(url)
    engine = create_engine_for(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    server = create_engine_for(MYSQL_SERVER_URL)
    with server.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    server.dispose()


@pytest.fixture()
def mysql_engine(mysql_url: str) -> Iterator[Engine]:
    """Engine on the session's MariaDB database with every table emptied before the test."""
    engine = create_engine_for(mysql_url)
    _empty_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'preempt.db'}"
    engine = create_engine_for(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture()
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = create_engine_for(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "mysql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on both engines."""
    fixture = "sqlite_engine" if request.param == "sqlite" else "mysql_engine"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


@pytest.fixture()
def redis_prefix() -> Iterator[str]:
    """A key prefix unique to this test; every key under it is deleted afterwards."""
    prefix = f"{_unique('test')}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture()
def redis_url() -> str:
    return REDIS_URL


def _empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
