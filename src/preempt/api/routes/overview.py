"""GET /overview: every location with its anomaly counts by severity over a window (the map)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.engine import Connection

from preempt.api.context import IsoDateTime, read_conn, time_window
from preempt.api.render import json_response
from preempt.api.schemas import Overview
from preempt.storage.anomalies import SEVERITIES, anomaly_overview

router = APIRouter(tags=["overview"])


@router.get("/overview", response_model=Overview)
def get_overview(
    hours: int = Query(24, ge=1, le=92 * 24, description="Window up to now, in hours."),
    since: IsoDateTime | None = Query(None, description="Start (inclusive); overrides hours."),
    until: IsoDateTime | None = Query(None, description="End (exclusive), default now."),
    conn: Connection = Depends(read_conn),
) -> Response:
    """All locations with anomaly counts by severity in the window, in one query."""
    start, end = time_window(hours=hours, since=since, until=until)
    rows: list[dict[str, Any]] = []
    for loc in anomaly_overview(conn, since=start, until=end):
        counts = loc.counts
        worst = next((sev for sev in reversed(SEVERITIES) if counts.get(sev)), None)
        rows.append({
            "id": loc.location_id, "name": loc.name, "latitude": loc.latitude,
            "longitude": loc.longitude,
            "anomalies": {**{sev: counts.get(sev, 0) for sev in SEVERITIES},
                          "total": sum(counts.values())},
            "worst": worst, "latest_at": loc.latest_at,
        })
    return json_response({"since": start, "until": end, "count": len(rows), "locations": rows})
