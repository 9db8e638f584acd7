"""GET /metrics: a location's series (SEED.md), optionally with the expected band per sample."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.engine import Connection

from preempt.api.bands import BAND_HISTORY, expected_bands
from preempt.api.context import IsoDateTime, context, read_conn, require_location, time_window
from preempt.api.schemas import MetricName, MetricsOut
from preempt.api.series import iso_utc, read_series
from preempt.domain import METRIC_UNITS
from preempt.storage.locations import get_location_by_name

router = APIRouter(tags=["metrics"])

MAX_HOURS = 92 * 24


@router.get("/metrics", response_model=MetricsOut)
def get_metrics(
    request: Request,
    location: str = Query(min_length=1, max_length=200, description="City name, e.g. Tokyo."),
    type: MetricName | None = Query(
        None, description="One metric type (default: every monitored metric).",
    ),
    hours: int = Query(24, ge=1, le=MAX_HOURS,
                       description=f"Window up to now, in hours (max {MAX_HOURS})."),
    since: IsoDateTime | None = Query(None, description="Start (inclusive); overrides hours."),
    until: IsoDateTime | None = Query(None, description="End (exclusive), default now."),
    bands: bool = Query(False, description="Add expected value and band per sample."),
    conn: Connection = Depends(read_conn),
) -> Response:
    """Samples of one location, grouped by metric, oldest first."""
    settings = context(request).settings
    metric_types = (type,) if type else settings.monitored_fields
    start, end = time_window(hours=hours, since=since, until=until)
    read_from = start - BAND_HISTORY if bands else start
    rows = read_series(conn, location, metric_types, since=read_from, until=end)
    if not any(times for times, _ in rows.values()):  # no data: is the location unknown?
        require_location(get_location_by_name(conn, location), location)
    cut = iso_utc(start)
    series: dict[str, Any] = {}
    total = 0
    computed = bands
    for metric, (times, values) in rows.items():
        band = expected_bands(metric, times, values) if bands else None
        computed = computed and band is not None
        first = next((i for i, t in enumerate(times) if t >= cut), len(times))
        points: list[dict[str, Any]] = []
        for i in range(first, len(times)):
            point: dict[str, Any] = {"timestamp": times[i], "value": values[i]}
            if band is not None:
                point["expected"], point["lower"], point["upper"] = band[i]
            points.append(point)
        series[metric] = {"unit": METRIC_UNITS.get(metric, ""), "count": len(points),
                          "data": points}
        total += len(points)
    payload = {
        "location": location, "hours": round((end - start).total_seconds() / 3600, 6),
        "since": start, "until": end, "bands": computed, "count": total, "metrics": series,
    }
    return Response(orjson.dumps(payload),
                    media_type="application/json")
