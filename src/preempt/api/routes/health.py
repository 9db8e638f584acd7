"""GET /health: the server, its dependencies (database, Redis), services' heartbeats and stream
lag. 503 when a configured dependency is down."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import SQLAlchemyError

from preempt.api.context import ApiContext, context
from preempt.api.render import json_response
from preempt.api.schemas import Health
from preempt.config import Settings
from preempt.errors import PreemptError
from preempt.storage.heartbeats import Heartbeat, list_heartbeats
from preempt.streams import names

router = APIRouter(tags=["health"])


def data_source(settings: Settings) -> str:
    """'open-meteo' for the real API, 'simulated' for the emulator (any other forecast URL)."""
    host = urlsplit(settings.openmeteo.url).hostname or ""
    return "open-meteo" if host == "open-meteo.com" or host.endswith(".open-meteo.com") \
        else "simulated"


def _version() -> str:
    try:
        return version("preempt")
    except PackageNotFoundError:
        return "unknown"


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]


def _check_database(ctx: ApiContext) -> tuple[dict[str, Any], list[Heartbeat]]:
    started = time.perf_counter()
    try:
        with ctx.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            beats = list_heartbeats(conn)
    except SQLAlchemyError as exc:
        return {"status": "down", "detail": _reason(exc)}, []
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}, beats


def _check_streams(ctx: ApiContext) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if ctx.bus is None:
        return {"status": "not_configured", "detail": "no REDIS_HOST: in-process streams"}, []
    s = ctx.settings
    watched = ((names.WEATHER_METRICS, s.store.group), (names.ML_INPUT, s.ml.group))
    started = time.perf_counter()
    streams = []
    try:
        for stream, group in watched:
            length = ctx.bus.length(stream)
            info = ctx.bus.group_info(stream, group)
            streams.append({
                "stream": stream, "length": length, "group": group,
                "pending": info.pending if info else None, "lag": info.lag if info else None,
            })
    except (PreemptError, OSError) as exc:
        return {"status": "down", "detail": _reason(exc)}, []
    latency = round((time.perf_counter() - started) * 1000, 2)
    return {"status": "ok", "latency_ms": latency}, streams


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def get_health(request: Request) -> Response:
    """Healthy (200) when every configured dependency answers, else unhealthy (503)."""
    ctx = context(request)
    now = datetime.now(UTC)
    database, beats = _check_database(ctx)
    redis_state, streams = _check_streams(ctx)
    dependencies = {"database": database, "redis": redis_state}
    healthy = all(d["status"] != "down" for d in dependencies.values())
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "time": now,
        "source": data_source(ctx.settings),
        "version": _version(),
        "uptime_s": round((now - ctx.started_at).total_seconds(), 3),
        "dependencies": dependencies,
        "services": [
            {"service": b.service, "instance": b.instance, "status": b.status,
             "beat_at": b.beat_at, "age_s": round((now - b.beat_at).total_seconds(), 3),
             "info": b.info}
            for b in beats
        ],
        "streams": streams,
    }
    return json_response(body, status_code=200 if healthy else 503)

