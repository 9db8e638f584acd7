"""`preempt store`: the stream → database consumer, continuous (SEED.md's store service)."""

from __future__ import annotations

import logging
import time
from typing import Annotated

import typer

from preempt.cli import ConfigOption, app, settings_from
from preempt.commands.runtime import MetricsPortOption, open_migrated_database, service_stop_event
from preempt.observability import serve_metrics
from preempt.services import store as store_service
from preempt.storage.engine import describe
from preempt.streams import open_bus

logger = logging.getLogger(__name__)


@app.command("store")
def store(
    config: ConfigOption = None,
    metrics_port: MetricsPortOption = 0,
    max_batches: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many batches.")
    ] = None,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Stop when the stream has nothing left to read.")
    ] = False,
) -> None:
    """Consume weather_metrics into the metrics table until SIGTERM/SIGINT."""
    settings = settings_from(config)
    bus = open_bus(settings)
    engine = open_migrated_database(settings)
    serve_metrics(metrics_port)
    stop = service_stop_event()
    logger.info("store: database %s", describe(settings.database_url))
    try:
        stats = store_service.run(settings.store, bus=bus, engine=engine, stop=stop,
                                  max_batches=max_batches, until_idle=until_idle)
    finally:
        bus.close()
        engine.dispose()
    typer.echo(f"store: {stats.line(time.monotonic() - stats.started_at)}")

