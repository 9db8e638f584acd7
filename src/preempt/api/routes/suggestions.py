"""GET /alarm-suggestions (SEED.md) with filters and paging; accept and dismiss."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from sqlalchemy.engine import Connection

from preempt.api.alarms_routes import create_rule_from_suggestion
from preempt.api.context import (
    CURSOR_PATTERN,
    IsoDateTime,
    clamp_limit,
    decode_cursor,
    read_conn,
    require_location,
    split_page,
    to_utc,
    write_conn,
)
from preempt.api.render import json_response, suggestion_dict
from preempt.api.schemas import DismissIn, MetricName, SuggestionList, SuggestionOut
from preempt.api.security import Principal, require_editor
from preempt.storage.locations import get_location_by_name
from preempt.storage.suggestions import (
    SuggestionFilter,
    SuggestionRecord,
    decide_suggestion,
    get_suggestion,
    list_suggestions,
)

read_router = APIRouter(tags=["alarm-suggestions"])
write_router = APIRouter(tags=["alarm-suggestions"])

IdPath = Path(ge=1, le=2**31 - 1, description="The suggestion's id.")


@read_router.get("/alarm-suggestions", response_model=SuggestionList)
def get_suggestions(
    request: Request,
    location: str = Query(min_length=1, max_length=200, description="City name."),
    limit: int = Query(50, ge=1, le=2**31,
                       description="Page size; capped at server.max_limit (default 1000)."),
    metric: list[MetricName] = Query([], description="Repeat to allow several."),
    status: list[Literal["open", "accepted", "dismissed"]] = Query(
        [], description="Repeat to allow several (default: all)."
    ),
    since: IsoDateTime | None = Query(None, description="Changed at or after (inclusive)."),
    until: IsoDateTime | None = Query(None, description="Changed before (exclusive)."),
    cursor: str | None = Query(None, pattern=CURSOR_PATTERN,
                               description="next_cursor of the previous page."),
    conn: Connection = Depends(read_conn),
) -> Response:
    """Alarm suggestions of one location, most recently changed first, with backtest figures."""
    filters = SuggestionFilter(
        metric_types=tuple(metric), statuses=tuple(status),
        since=to_utc(since) if since else None,
        until=to_utc(until) if until else None,
    )
    before = decode_cursor(cursor) if cursor else None
    page = clamp_limit(request, limit)
    found = list_suggestions(conn, location, limit=page + 1, filters=filters, before=before)
    if not found:  # an empty page: is it the location that is unknown?
        require_location(get_location_by_name(conn, location), location)
    found, next_cursor = split_page(found, page, lambda row: (row.updated_at, row.id))
    return json_response({
        "location": location, "count": len(found),
        "suggestions": [suggestion_dict(s) for s in found], "next_cursor": next_cursor,
    })


@read_router.get("/alarm-suggestions/{suggestion_id}", response_model=SuggestionOut)
def get_one_suggestion(
    suggestion_id: int = IdPath, conn: Connection = Depends(read_conn)
) -> Response:
    """One suggestion by id."""
    return json_response(suggestion_dict(_existing(conn, suggestion_id)))


def _existing(conn: Connection, suggestion_id: int) -> SuggestionRecord:
    found = get_suggestion(conn, suggestion_id)
    if found is None:
        raise HTTPException(404, detail=f"unknown alarm suggestion {suggestion_id}")
    return found


def accept(conn: Connection, suggestion: SuggestionRecord, *, by: str) -> SuggestionRecord:
    """Accept a suggestion: the single place where it turns into an alarm rule.

    Status and the rule are written in the caller's transaction: both or neither.
    """
    accepted = decide_suggestion(conn, suggestion.id, status="accepted", by=by)
    assert accepted is not None  # the row was read in this transaction
    create_rule_from_suggestion(conn, accepted.id, by)
    return accepted


@write_router.post("/alarm-suggestions/{suggestion_id}/accept", response_model=SuggestionOut)
def post_accept(
    suggestion_id: int = IdPath,
    who: Principal = Depends(require_editor),
    conn: Connection = Depends(write_conn),
) -> Response:
    """Accept (editor): status accepted, recording who and when; it becomes an alarm."""
    current = _existing(conn, suggestion_id)
    if current.status == "accepted":
        raise HTTPException(409, detail=f"alarm suggestion {suggestion_id} is already accepted")
    return json_response(suggestion_dict(accept(conn, current, by=who.name)))


@write_router.post("/alarm-suggestions/{suggestion_id}/dismiss", response_model=SuggestionOut)
def post_dismiss(
    body: DismissIn,
    suggestion_id: int = IdPath,
    who: Principal = Depends(require_editor),
    conn: Connection = Depends(write_conn),
) -> Response:
    """Dismiss with a reason (editor); detect re-proposes it only if its threshold moves a lot."""
    current = _existing(conn, suggestion_id)
    if current.status == "accepted":
        raise HTTPException(409, detail=f"alarm suggestion {suggestion_id} is accepted; "
                            "remove its alarm instead")
    dismissed = decide_suggestion(conn, current.id, status="dismissed", by=who.name,
                                  reason=body.reason)
    assert dismissed is not None
    return json_response(suggestion_dict(dismissed))
