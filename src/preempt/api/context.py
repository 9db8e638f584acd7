"""What every request handler shares: settings, the engine, the stream bus, the start time."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import HTTPException, Request
from pydantic import BeforeValidator
from sqlalchemy.engine import Connection, Engine

from preempt.config import Settings
from preempt.domain import Location
from preempt.streams.bus import StreamBus

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class ApiContext:
    settings: Settings
    engine: Engine
    bus: StreamBus | None
    started_at: datetime


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def read_conn(request: Request) -> Iterator[Connection]:
    """A connection for one request's reads."""
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


def time_window(
    *, hours: float, since: datetime | None, until: datetime | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """[since, until): explicit bounds win; otherwise the last `hours` hours up to now.

    since >= until is an empty window, not an error.
    """
    end = to_utc(until) if until else (now or datetime.now(UTC))
    if since is not None:
        start = to_utc(since)
    else:
        try:
            start = end - timedelta(hours=hours)
        except OverflowError:
            start = _MIN
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


def reject_unknown_query(request: Request) -> None:
    """422 for a query parameter the route does not know (a typo like ?hour=48 is not ignored)."""
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
