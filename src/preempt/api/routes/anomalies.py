"""GET /anomalies (SEED.md) with filters and cursor paging; anomaly feedback."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from sqlalchemy.engine import Connection

from preempt.api.context import (
    CURSOR_PATTERN,
    IsoDateTime,
    clamp_limit,
    decode_cursor,
    read_conn,
    reading,
    require_location,
    split_page,
    to_utc,
    write_conn,
)
from preempt.api.render import anomaly_dict, json_response
from preempt.api.schemas import AnomalyList, AnomalyOut, FeedbackIn, MetricName
from preempt.api.security import Principal, require_editor
from preempt.storage.anomalies import (
    AnomalyFilter,
    get_anomaly,
    list_anomalies,
    set_anomaly_feedback,
)
from preempt.storage.locations import get_location_by_name

read_router = APIRouter(tags=["anomalies"])
write_router = APIRouter(tags=["anomalies"])

# the detector's method names (detection.combine.METHOD_ORDER); "rule" is SEED.md's name
# for "rules", kept as an alias
Method = Literal["rules", "record", "seasonal", "consistency", "spell", "stuck", "dropout",
                 "iforest", "classic", "rule"]
IdPath = Path(ge=1, le=2**62, description="The anomaly's id.")


@read_router.get("/anomalies", response_model=AnomalyList)
def get_anomalies(
    request: Request,
    location: str = Query(min_length=1, max_length=200, description="City name."),
    limit: int = Query(100, ge=1, le=2**31,
                       description="Page size; capped at server.max_limit (default 1000)."),
    metric: list[MetricName] = Query([], description="Repeat to allow several."),
    severity: list[Literal["low", "medium", "high"]] = Query(
        [], description="Repeat to allow several."
    ),
    status: list[Literal["new", "false_positive", "confirmed"]] = Query([]),
    method: Method | None = Query(None, description="Only anomalies this method flagged."),
    since: IsoDateTime | None = Query(None, description="Sample time from (inclusive)."),
    until: IsoDateTime | None = Query(None, description="Sample time until (exclusive)."),
    cursor: str | None = Query(None, pattern=CURSOR_PATTERN,
                               description="next_cursor of the previous page."),
) -> Response:
    """Anomalies of one location, newest first, with score, methods and expected band."""
    filters = AnomalyFilter(
        metric_types=tuple(metric), severities=tuple(severity), statuses=tuple(status),
        method="rules" if method == "rule" else method, since=to_utc(since) if since else None,
        until=to_utc(until) if until else None,
    )
    before = decode_cursor(cursor) if cursor else None
    page = clamp_limit(request, limit)
    with reading(request) as conn:
        found = list_anomalies(conn, location, limit=page + 1, filters=filters, before=before)
        if not found:  # an empty page: is it the location that is unknown?
            require_location(get_location_by_name(conn, location), location)
    found, next_cursor = split_page(found, page, lambda row: (row.timestamp, row.id))
    return json_response({
        "location": location, "count": len(found),
        "anomalies": [anomaly_dict(a) for a in found], "next_cursor": next_cursor,
    })


@read_router.get("/anomalies/{anomaly_id}", response_model=AnomalyOut)
def get_one_anomaly(anomaly_id: int = IdPath, conn: Connection = Depends(read_conn)) -> Response:
    """One anomaly by id."""
    found = get_anomaly(conn, anomaly_id)
    if found is None:
        raise HTTPException(404, detail=f"unknown anomaly {anomaly_id}")
    return json_response(anomaly_dict(found))


@write_router.post("/anomalies/{anomaly_id}/feedback", response_model=AnomalyOut)
def post_feedback(
    body: FeedbackIn,
    anomaly_id: int = IdPath,
    who: Principal = Depends(require_editor),
    conn: Connection = Depends(write_conn),
) -> Response:
    """Mark an anomaly false_positive or confirmed (editor); 'new' clears the verdict."""
    updated = set_anomaly_feedback(conn, anomaly_id, verdict=body.verdict, by=who.name,
                                   note=body.note)
    if updated is None:
        raise HTTPException(404, detail=f"unknown anomaly {anomaly_id}")
    return json_response(anomaly_dict(updated))
