"""What every request handler shares: settings, the engines, the stream bus, the start time."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, TypeVar

import sqlalchemy as sa
from fastapi import HTTPException, Request
from pydantic import BeforeValidator
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError

from preempt.config import Settings
from preempt.domain import Location
from preempt.storage.engine import create_engine_for
from preempt.streams.bus import StreamBus

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class ApiContext:
    settings: Settings
    engine: Engine
    bus: StreamBus | None
    started_at: datetime
    read_engine: Engine  # see read_engine_for


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


# A pooled read connection idle this long is pinged before use (see _ping_after_idle).
IDLE_PING_S: Final = 5.0


def read_engine_for(engine: Engine, *, idle_ping_s: float = IDLE_PING_S) -> Engine:
    """The engine of the hot single-statement reads (GET /metrics, GET /anomalies).

    On MySQL/MariaDB: a second pool on the same database in autocommit mode. A read in a
    transaction has to end it (a ROLLBACK round trip per request; a pooled connection left in
    its transaction would keep serving its old snapshot), while an autocommit SELECT sees what
    is committed when it runs and needs nothing after it. Elsewhere: `engine` itself.
    """
    if engine.dialect.name not in ("mysql", "mariadb"):
        return engine
    reader = create_engine_for(
        engine.url.render_as_string(hide_password=False), pool_size=10, max_overflow=10,
        isolation_level="AUTOCOMMIT", skip_autocommit_rollback=True, pool_pre_ping=False,
    )
    _ping_after_idle(reader, idle_ping_s)
    return reader


def _ping_after_idle(engine: Engine, idle_ping_s: float) -> None:
    """Ping a pooled connection on checkout only when it sat idle for `idle_ping_s` or more.

    pool_pre_ping would ping on every checkout: a round trip per request on a busy pool, where
    connections are a few milliseconds old. A connection the server dropped while it was idle
    (restart, wait_timeout) is still replaced before use; one dropped under load fails its
    request once (503), and the pool then replaces every connection older than the failure.
    """
    dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error

    def checkin(_dbapi: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checkout(dbapi: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_ping_s:
            return
        try:
            engine.dialect.do_ping(dbapi)
        except dbapi_error as exc:  # the pool retries with a new connection
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc

    sa.event.listen(engine, "checkin", checkin)
    sa.event.listen(engine, "checkout", checkout)


@contextmanager
def reading(request: Request) -> Iterator[Connection]:
    """A connection of the read engine, opened in the handler itself: FastAPI runs a sync
    generator dependency (read_conn) in worker threads on entry and exit, two thread hops on top
    of the handler's own."""
    with context(request).read_engine.connect() as conn:
        yield conn


Result = TypeVar("Result")


async def in_thread(call: Callable[[], Result]) -> Result:
    """call() in a thread of the event loop's default executor (the app's lifespan sizes it).

    For the hot reads, from an async handler: FastAPI runs a sync handler through anyio's
    worker threads (capacity limiter, cancel scope, context copy), which cost ~0.1 ms more CPU
    per GET /metrics than this plain executor hop (wrk, 16 clients, A/B in one run).
    """
    return await asyncio.get_running_loop().run_in_executor(None, call)


def read_conn(request: Request) -> Iterator[Connection]:
    """A connection for one request's reads (in one transaction; hot routes use `reading`)."""
    with context(request).engine.connect() as conn:
        yield conn


def write_conn(request: Request) -> Iterator[Connection]:
    """A connection in a transaction committed when the handler returns without error."""
    with context(request).engine.begin() as conn:
        yield conn


def not_found_location(name: str) -> HTTPException:
    return HTTPException(404, detail=f"unknown location {name!r}")


def require_location(found: Location | None, name: str) -> Location:
    if found is None:
        raise not_found_location(name)
    return found


def invalid(field: str, message: str) -> HTTPException:
    """A 422 that names the field, in the same shape as validation errors."""
    return HTTPException(422, detail=f"{field}: {message}")


def clamp_limit(request: Request, limit: int) -> int:
    return min(limit, context(request).settings.server.max_limit)


CURSOR_PATTERN = r"^\d{1,11}(\.\d{1,6})?_\d{1,18}$"
_MIN = datetime.min.replace(tzinfo=UTC)
_MAX = datetime.max.replace(tzinfo=UTC)


def to_utc(moment: datetime, field: str | None = None) -> datetime:
    """An aware UTC datetime (naive input is taken as UTC), clamped to the representable range.

    `field` is accepted for callers that name it; clamping means no input is an error.
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return _MIN if moment.year < 5000 else _MAX


def before(moment: datetime, span: timedelta) -> datetime:
    """`moment - span`, or the earliest representable time when that is earlier still."""
    try:
        return moment - span
    except OverflowError:
        return _MIN


def time_window(
    *, hours: float, since: datetime | None, until: datetime | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """[since, until): explicit bounds win; otherwise the last `hours` hours up to now.

    since >= until is an empty window, not an error.
    """
    end = to_utc(until) if until else (now or datetime.now(UTC))
    start = to_utc(since) if since is not None else before(end, timedelta(hours=hours))
    return min(start, end), end


def encode_cursor(moment: datetime, row_id: int) -> str:
    """'<epoch seconds>.<microseconds>_<id>' of the last row of a page."""
    delta = moment.astimezone(UTC) - EPOCH
    return f"{delta.days * 86400 + delta.seconds}.{delta.microseconds:06d}_{row_id}"


Row = TypeVar("Row")


def split_page(
    found: Sequence[Row], page: int, position: Callable[[Row], tuple[datetime, int]]
) -> tuple[list[Row], str | None]:
    """The first `page` rows of `found` (fetched with limit page + 1) and the cursor of the
    next page (None when this is the last one)."""
    rows = list(found[:page])
    more = len(found) > page
    return rows, encode_cursor(*position(rows[-1])) if more else None


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """(time, id) from a cursor matching CURSOR_PATTERN (the query parameter enforces it)."""
    stamp, _, row_id = cursor.partition("_")
    seconds, _, micros = stamp.partition(".")
    moment = EPOCH + timedelta(seconds=int(seconds), microseconds=int(micros.ljust(6, "0")))
    return moment, int(row_id)


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _query_names(dependant: Any) -> frozenset[str]:
    names = {str(f.alias) for f in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


async def reject_unknown_query(request: Request) -> None:
    """422 for a query parameter the route does not know (a typo like ?hour=48 is not ignored).

    Async although it does no I/O: a sync dependency would cost a worker-thread hop per request.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    allowed = _QUERY_NAMES.get(id(route))
    if allowed is None:
        allowed = _QUERY_NAMES[id(route)] = _query_names(dependant)
    for name in request.query_params:
        if name not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise invalid(f"query.{name}", f"unknown parameter (known: {known})")


_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


def _iso_only(value: object) -> object:
    if isinstance(value, str) and _NUMBER.match(value):
        raise ValueError("must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z")
    return value


# A query time: ISO 8601 text only (pydantic alone would also take epoch numbers).
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]
