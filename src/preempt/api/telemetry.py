"""Prometheus metrics of the API (request latency by route) and the /prometheus exposition.

GET /metrics is SEED.md's data endpoint, so the exposition lives at GET /prometheus. With
several uvicorn workers each worker answers with its own counters.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_SECONDS = Histogram(
    "preempt_api_request_seconds",
    "API request latency by route template, method and status.",
    ["route", "method", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)


class LatencyMiddleware:
    """Times every HTTP request (to its response start) under its route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
                route = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                if template == "/{path:path}":
                    template = "dashboard"
                REQUEST_SECONDS.labels(template, scope["method"], str(status[0])).observe(
                    time.perf_counter() - started
                )
            await send(message)

        await self.app(scope, receive, send_timed)


def prometheus(_request: Request) -> Response:
    """The default registry in the Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
