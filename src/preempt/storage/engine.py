"""Engines for the configured database: SQLite (embedded) or MySQL/MariaDB/PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from preempt.errors import ConfigError


def create_engine_for(url: str, **kwargs: Any) -> Engine:
    """An engine with sane defaults: SQLite in WAL mode, pooled pre-pinged server connections."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_recycle", 3600)
    return sa.create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000",
                   "temp_store=MEMORY", "cache_size=-65536"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def describe(url: str) -> str:
    """Where a URL points, without its password: 'mysql at 127.0.0.1:3306/preempt'."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite at {parsed.database}"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.get_backend_name()} at {parsed.host}{port}/{parsed.database}"


def check_database(engine: Engine) -> None:
    """Raise ConfigError naming the host when the database does not answer."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise ConfigError(
            f"cannot reach database {describe(str(engine.url))}: {reason}"
        ) from exc


def ensure_database(url: str) -> None:
    """Create the named MySQL/MariaDB/PostgreSQL database when it does not exist yet."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" or not parsed.database:
        return
    name = parsed.database
    if backend in ("mysql", "mariadb"):
        server = create_engine_for(_without_database(parsed))
        statement = f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4"
        try:
            with server.begin() as conn:
                conn.execute(sa.text(statement))
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            raise ConfigError(f"cannot reach database {describe(url)}: {reason}") from exc
        finally:
            server.dispose()
    elif backend == "postgresql":
        server = create_engine_for(
            parsed.set(database="postgres").render_as_string(hide_password=False),
            isolation_level="AUTOCOMMIT",
        )
        try:
            with server.connect() as conn:
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).first()
                if not exists:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            raise ConfigError(f"cannot reach database {describe(url)}: {reason}") from exc
        finally:
            server.dispose()


def _without_database(parsed: URL) -> str:
    """The server URL (no database selected), as a string with its password."""
    server = URL.create(
        parsed.drivername, username=parsed.username, password=parsed.password,
        host=parsed.host, port=parsed.port, query=parsed.query,
    )
    return server.render_as_string(hide_password=False)
