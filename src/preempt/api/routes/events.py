"""GET /events: server-sent events of new anomalies, anomaly feedback, suggestion changes and
alarm state changes.

Polls the database by anomaly id, updated_at and alarm transition id, so it sees what any detect
or alarms process wrote, embedded or distributed. Each event's id resumes the stream
(Last-Event-ID).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from preempt.api.alarms_routes import transition_dict
from preempt.api.context import ApiContext, context, invalid, not_found_location
from preempt.api.render import anomaly_dict, suggestion_dict
from preempt.storage.alarms import transitions_after
from preempt.storage.anomalies import anomalies_after, anomalies_changed
from preempt.storage.locations import get_location_by_name
from preempt.storage.suggestions import suggestions_changed
from preempt.storage.tables import alarm_history, alarm_suggestions, anomalies

router = APIRouter(tags=["events"])

KEEPALIVE_S = 15.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class FeedCursor:
    """Where the feed stands: last anomaly id seen, the change times polled from and the last
    alarm transition id seen."""

    after_id: int
    anomalies_since: datetime
    suggestions_since: datetime
    alarms_after: int
    seen: set[tuple[str, int, datetime, int]] = field(default_factory=set)

    def token(self) -> str:
        return (f"{self.after_id}.{int(self.anomalies_since.timestamp())}."
                f"{int(self.suggestions_since.timestamp())}.{self.alarms_after}")

    @classmethod
    def parse(cls, token: str) -> FeedCursor:
        parts = token.split(".")
        if len(parts) != 4 or not all(p.isdigit() and len(p) <= 18 for p in parts):
            raise invalid("header.last-event-id", "not an event id from this stream")
        return cls(int(parts[0]), datetime.fromtimestamp(min(int(parts[1]), 2**33), UTC),
                   datetime.fromtimestamp(min(int(parts[2]), 2**33), UTC), int(parts[3]))


def _start(ctx: ApiContext) -> FeedCursor:
    with ctx.engine.connect() as conn:
        max_id, a_max = conn.execute(
            sa.select(sa.func.max(anomalies.c.id), sa.func.max(anomalies.c.updated_at))
        ).one()
        s_max = conn.execute(sa.select(sa.func.max(alarm_suggestions.c.updated_at))).scalar()
        h_max = conn.execute(sa.select(sa.func.max(alarm_history.c.id))).scalar()
    cursor = FeedCursor(int(max_id or 0), (a_max or EPOCH).replace(tzinfo=UTC),
                        (s_max or EPOCH).replace(tzinfo=UTC), int(h_max or 0))
    _poll(ctx, cursor)  # what is already there is history, not news
    return cursor


def _poll(ctx: ApiContext, cursor: FeedCursor) -> list[tuple[str, dict[str, Any]]]:
    """Events since the cursor, advancing it; duplicates (same row, same change) skipped."""
    out: list[tuple[str, dict[str, Any]]] = []
    with ctx.engine.connect() as conn:
        fresh = anomalies_after(conn, after_id=cursor.after_id)
        changed = anomalies_changed(conn, since=cursor.anomalies_since, max_id=cursor.after_id)
        suggestions = suggestions_changed(conn, since=cursor.suggestions_since)
        transitions = transitions_after(conn, after_id=cursor.alarms_after)
    # A change is (row, updated_at, content): updated_at alone has one-second resolution on
    # MySQL, so two changes within a second differ only by content.
    for a in fresh:
        cursor.after_id = max(cursor.after_id, a.id)
        cursor.seen.add(("a", a.id, a.updated_at, hash(a)))
        out.append(("anomaly", anomaly_dict(a)))
    for a in changed:
        cursor.anomalies_since = max(cursor.anomalies_since, a.updated_at)
        key = ("a", a.id, a.updated_at, hash(a))
        if key not in cursor.seen:
            cursor.seen.add(key)
            out.append(("anomaly_feedback", anomaly_dict(a)))
    for s in suggestions:
        cursor.suggestions_since = max(cursor.suggestions_since, s.updated_at)
        key = ("s", s.id, s.updated_at, hash(s))
        if key not in cursor.seen:
            cursor.seen.add(key)
            out.append(("suggestion", suggestion_dict(s)))
    for h in transitions:  # rows are immutable and ids increase: the id alone dedupes
        cursor.alarms_after = max(cursor.alarms_after, h.id)
        out.append(("alarm", transition_dict(h)))
    oldest = min(cursor.anomalies_since, cursor.suggestions_since)
    cursor.seen = {k for k in cursor.seen if k[2] >= oldest}
    return out


def _frame(event: str, event_id: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\nid: " + event_id.encode() + b"\ndata: " \
        + orjson.dumps(data) + b"\n\n"


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "Events: anomaly, anomaly_feedback, suggestion, alarm "
                                    "(a state change, as in /alarm-history)."}},
)
async def get_events(
    request: Request,
    location: str | None = Query(None, min_length=1, max_length=200,
                                 description="Only events of this location."),
    timeout_s: float | None = Query(None, gt=0, le=86400,
                                    description="Close the stream after this long."),
    last_event_id: str | None = Header(None, pattern=r"^\d{1,18}\.\d{1,18}\.\d{1,18}\.\d{1,18}$"),
) -> StreamingResponse:
    """A text/event-stream; each `data:` is the anomaly, suggestion or alarm transition as in
    the list endpoints."""
    ctx = context(request)
    if location is not None:
        with ctx.engine.connect() as conn:
            if get_location_by_name(conn, location) is None:
                raise not_found_location(location)
    cursor = (FeedCursor.parse(last_event_id) if last_event_id
              else await run_in_threadpool(_start, ctx))
    poll_s = ctx.settings.server.events_poll_s
    deadline = time.monotonic() + timeout_s if timeout_s else None

    async def stream() -> AsyncIterator[bytes]:
        yield f"retry: {int(poll_s * 1000) + 1000}\n: connected\n\n".encode()
        quiet_since = time.monotonic()
        while deadline is None or time.monotonic() < deadline:
            if await request.is_disconnected():
                return
            events = await run_in_threadpool(_poll, ctx, cursor)
            for kind, data in events:
                if location is None or data["location"] == location:
                    yield _frame(kind, cursor.token(), data)
                    quiet_since = time.monotonic()
            if time.monotonic() - quiet_since > KEEPALIVE_S:
                yield b": keepalive\n\n"
                quiet_since = time.monotonic()
            await asyncio.sleep(poll_s)

    return StreamingResponse(
        stream(), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
