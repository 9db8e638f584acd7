"""GET /metrics: a location's series (SEED.md), optionally with the expected band per sample."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.engine import Connection

from preempt.api.bands import BAND_HISTORY, expected_bands
from preempt.api.context import (
    IsoDateTime,
    before,
    context,
    in_thread,
    reading,
    require_location,
    time_window,
)
from preempt.api.schemas import MetricName, MetricsOut
from preempt.api.series import iso_utc, read_series, read_series_json
from preempt.domain import METRIC_UNITS
from preempt.storage.locations import get_location_by_name

router = APIRouter(tags=["metrics"])

MAX_HOURS = 92 * 24


@router.get("/metrics", response_model=MetricsOut)
async def get_metrics(
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
) -> Response:
    """Samples of one location, grouped by metric, oldest first."""
    # Async, with the blocking part in one plain thread hop (in_thread).
    return await in_thread(partial(_metrics, request, location, type, hours, since, until, bands))


def _metrics(
    request: Request, location: str, metric: str | None, hours: int, since: datetime | None,
    until: datetime | None, bands: bool,
) -> Response:
    ctx = context(request)
    metric_types = (metric,) if metric else ctx.settings.monitored_fields
    start, end = time_window(hours=hours, since=since, until=until)
    with reading(request) as conn:
        if bands:
            series, total, computed = _banded_series(conn, location, metric_types, start, end)
        else:
            series, total = _plain_series(conn, location, metric_types, start, end)
            computed = False
        if total == 0:  # no data: is the location unknown?
            require_location(get_location_by_name(conn, location), location)
    head = orjson.dumps({
        "location": location, "hours": round((end - start).total_seconds() / 3600, 6),
        "since": start, "until": end, "bands": computed, "count": total,
    })
    # The series are JSON already (from the database on MySQL/MariaDB): spliced, not re-parsed.
    return Response(head[:-1] + b',"metrics":' + series + b"}", media_type="application/json")


def _plain_series(
    conn: Connection, location: str, metric_types: Sequence[str], start: datetime, end: datetime
) -> tuple[bytes, int]:
    """The "metrics" object as JSON text, and its point count."""
    found = read_series_json(conn, location, metric_types, since=start, until=end)
    parts = [
        orjson.dumps(metric) + b':{"unit":' + orjson.dumps(METRIC_UNITS.get(metric, ""))
        + b',"count":' + str(one.count).encode() + b',"data":' + one.data + b"}"
        for metric, one in found.items()
    ]
    return b"{" + b",".join(parts) + b"}", sum(one.count for one in found.values())


def _banded_series(
    conn: Connection, location: str, metric_types: Sequence[str], start: datetime, end: datetime
) -> tuple[bytes, int, bool]:
    """The "metrics" object with expected value and band per point, its point count, and
    whether every band was computed (the core fits BAND_HISTORY before `start` as well)."""
    rows = read_series(conn, location, metric_types, since=before(start, BAND_HISTORY),
                       until=end)
    cut = iso_utc(start)
    series: dict[str, Any] = {}
    total = 0
    computed = True
    for metric, (times, values) in rows.items():
        band = expected_bands(metric, times, values)
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
    return orjson.dumps(series), total, computed
