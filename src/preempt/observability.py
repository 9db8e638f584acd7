"""Prometheus metrics: every service registers on the default registry; a standalone service
serves them on --metrics-port, the API server at /prometheus (GET /metrics is SEED.md's data).
"""

from __future__ import annotations

import logging

from prometheus_client import start_http_server

logger = logging.getLogger(__name__)


def serve_metrics(port: int | None) -> None:
    """Expose the default registry on `port` (0 or None: do not serve)."""
    if not port:
        return
    start_http_server(port)
    logger.info("Prometheus metrics on :%d/metrics", port)
