"""create_app(settings): the FastAPI application of `preempt server` (and of `preempt up`).

Every route answers at SEED.md's path and again under /api/ (the dashboard's prefix).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Final

from anyio import to_thread
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from preempt.api import alarms_routes
from preempt.api.context import ApiContext, read_engine_for, reject_unknown_query
from preempt.api.dashboard import mount_dashboard
from preempt.api.routes import anomalies, events, health, locations, metrics, overview, suggestions
from preempt.api.schemas import ErrorBody
from preempt.api.security import require_viewer
from preempt.api.telemetry import LatencyMiddleware, prometheus
from preempt.config import Settings
from preempt.errors import InvalidInput, NotFound, UpstreamError
from preempt.storage.engine import create_engine_for
from preempt.streams.bus import StreamBus

logger = logging.getLogger(__name__)

DESCRIPTION = """
Weather metrics, anomalies and alarm suggestions of every monitored location.

* Every route also answers under `/api/` (e.g. `/api/locations`).
* **Access**: reads are open unless `server.auth.reads_open: false` (then a *viewer* token).
  Anomaly feedback and suggestion accept/dismiss need an *editor* token, location management an
  *admin* token: `Authorization: Bearer <token>`. 401 = no or unknown token, 403 = role too low.
* **Limits**: `limit` is capped at `server.max_limit` (default 1000); `hours` at 2208 (92 days).
* **Errors**: JSON `{"detail": "...", "errors": [{"field": "query.hours", "message": "..."}]}`;
  an unknown location is a 404 naming it.
* **Times** are UTC, ISO 8601; naive `since`/`until` are taken as UTC.
* **Prometheus** exposition: `GET /prometheus` (`/metrics` is the data endpoint).
* **Live updates**: `GET /events` (server-sent events).
"""

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Unknown location or id."},
    422: {"model": ErrorBody, "description": "Invalid parameter; `errors` names the field."},
    503: {"model": ErrorBody, "description": "The database is unavailable."},
}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or unknown bearer token."},
    403: {"model": ErrorBody, "description": "The token's role is too low."},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"model": ErrorBody, "description": "The body is not JSON."},
    409: {"model": ErrorBody, "description": "Conflicts with the current state."},
}


def _unique_id(prefix: str) -> Callable[[APIRoute], str]:
    def generate(route: APIRoute) -> str:
        return f"{prefix}{route.name}"

    return generate


def _error(status: int, detail: str, errors: list[dict[str, str]] | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail, "errors": errors or []}
    return JSONResponse(body, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ())) or "request"
            errors.append({"field": where, "message": str(err.get("msg", "invalid"))})
        first = errors[0] if errors else {"field": "request", "message": "invalid"}
        return _error(422, f"{first['field']}: {first['message']}", errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        errors = []
        if exc.status_code == 422 and ": " in detail:
            field, message = detail.split(": ", 1)
            errors.append({"field": field, "message": message})
        return _error(exc.status_code, detail, errors, getattr(exc, "headers", None))

    @app.exception_handler(NotFound)
    async def on_not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(InvalidInput)
    async def on_bad_input(_request: Request, exc: InvalidInput) -> JSONResponse:
        return _error(422, str(exc))

    @app.exception_handler(UpstreamError)
    async def on_upstream(_request: Request, exc: UpstreamError) -> JSONResponse:
        return _error(503, f"a dependency is unavailable: {exc}")

    @app.exception_handler(OperationalError)
    async def on_database(_request: Request, exc: DBAPIError) -> JSONResponse:
        logger.warning("database unavailable: %s", exc.orig)
        return _error(503, "the database is unavailable; retry shortly")


# Sync handlers and dependencies run in this many threads per worker (anyio's default is 40),
# and so do the hot reads (context.in_thread, on the event loop's default executor, which
# would otherwise have min(32, CPUs + 4)); further requests wait their turn on the event loop.
# With 40 threads contending for the GIL a request took twice the CPU time at 64 concurrent
# clients, and p99 at 16 clients was 3-5x higher; a few threads still overlap one request's
# database wait with another's Python work.
HANDLER_THREADS: Final = 4


def _freeze_startup_objects() -> None:
    """Move what start-up built (modules, app, routes: ~130k objects) out of the cyclic garbage
    collector's reach, once per process. Each full collection walked all of them: ~100 ms of
    CPU during which every request in flight on the worker waited, every ~1,000 requests."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def create_app(
    settings: Settings, *, engine: Engine | None = None, bus: StreamBus | None = None
) -> FastAPI:
    """The API on `engine` (default: one for settings.database_url) and `bus` (default: Redis
    when settings.redis_url is set, else none). Resources the app creates it also closes."""
    owned_engine = engine is None
    engine = engine if engine is not None else create_engine_for(
        settings.database_url, pool_size=10, max_overflow=10
    )
    read_engine = read_engine_for(engine)
    owned_bus = bus is None and settings.redis_url is not None
    if bus is None and settings.redis_url is not None:
        from preempt.streams.redis_bus import RedisBus

        bus = RedisBus.from_url(settings.redis_url, prefix=settings.redis_prefix)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        _freeze_startup_objects()
        to_thread.current_default_thread_limiter().total_tokens = HANDLER_THREADS
        # The loop shuts its default executor down when it closes.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(HANDLER_THREADS, thread_name_prefix="preempt-api")
        )
        yield
        if owned_bus and bus is not None:
            bus.close()
        if read_engine is not engine:
            read_engine.dispose()
        if owned_engine:
            engine.dispose()

    app = FastAPI(
        title="Preempt API", version="1.0", description=DESCRIPTION, lifespan=lifespan,
        docs_url="/docs", openapi_url="/openapi.json", redoc_url=None,
    )
    app.state.ctx = ApiContext(settings=settings, engine=engine, bus=bus,
                               started_at=datetime.now(UTC), read_engine=read_engine)
    _install_error_handlers(app)
    app.add_middleware(LatencyMiddleware)
    auth = settings.server.auth
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(settings.server.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )

    strict = [Depends(reject_unknown_query)]
    read_guard = strict if auth.reads_open else [*strict, Depends(require_viewer)]
    read_errors = ERRORS if auth.reads_open else {**ERRORS, **AUTH_ERRORS}
    open_routers: list[APIRouter] = [health.router]
    read_routers: list[APIRouter] = [
        locations.read_router, metrics.router, anomalies.read_router,
        suggestions.read_router, overview.router, events.router,
    ]
    write_routers: list[APIRouter] = [
        locations.write_router, anomalies.write_router, suggestions.write_router,
    ]
    for prefix, id_prefix in (("", ""), ("/api", "api_")):
        unique = _unique_id(id_prefix)
        for router in open_routers:
            app.include_router(router, prefix=prefix, dependencies=strict,
                               generate_unique_id_function=unique)
        for router in read_routers:
            app.include_router(router, prefix=prefix, dependencies=read_guard,
                               responses=read_errors, generate_unique_id_function=unique)
        for router in write_routers:
            app.include_router(router, prefix=prefix, dependencies=strict,
                               responses={**ERRORS, **WRITE_ERRORS},
                               generate_unique_id_function=unique)
        # Alarm rules, history, silences, export (the router applies its own access rules).
        app.include_router(alarms_routes.router, prefix=prefix, dependencies=strict,
                           generate_unique_id_function=unique)
    app.add_api_route("/prometheus", prometheus, methods=["GET"], tags=["health"],
                      summary="Prometheus exposition of the API's metrics",
                      response_class=PlainTextResponse, responses={200: {
                          "content": {"text/plain": {}}, "description": "Text format 0.0.4"}})
    mount_dashboard(app, settings.server.static_dir)
    return app
