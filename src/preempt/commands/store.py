"""`preempt store`: the stream → database consumer, continuous (SEED.md's store service)."""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType
from typing import Annotated

import typer

from preempt.cli import ConfigOption, app, settings_from
from preempt.errors import ConfigError
from preempt.observability import serve_metrics
from preempt.services import store as store_service
from preempt.storage import migrate as migrations
from preempt.storage.engine import check_database, create_engine_for, describe
from preempt.streams import open_bus

logger = logging.getLogger(__name__)


@app.command("store")
def store(
    config: ConfigOption = None,
    metrics_port: Annotated[
        int, typer.Option(envvar="PREEMPT_METRICS_PORT", help="Serve Prometheus metrics (0: off).")
    ] = 0,
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
    engine = create_engine_for(settings.database_url)
    check_database(engine)
    if not migrations.status(engine).is_current:
        raise ConfigError(
            f"database {describe(settings.database_url)} is not migrated: run 'preempt migrate up'"
        )
    serve_metrics(metrics_port)
    stop = threading.Event()
    _stop_on_signals(stop)
    logger.info("store: database %s", describe(settings.database_url))
    try:
        stats = store_service.run(settings.store, bus=bus, engine=engine, stop=stop,
                                  max_batches=max_batches, until_idle=until_idle)
    finally:
        bus.close()
        engine.dispose()
    typer.echo(f"store: {stats.line(time.monotonic() - stats.started_at)}")


def _stop_on_signals(stop: threading.Event) -> None:
    """First SIGTERM/SIGINT: finish the current batch and stop; a second one: default action."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s: finishing the current batch", signal.Signals(signum).name)
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
