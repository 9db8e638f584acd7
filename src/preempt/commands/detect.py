"""`preempt detect [--once | --every 10m]`: anomaly detection + alarm suggestions (SEED.md)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from preempt.cli import ConfigOption, app, settings_from
from preempt.commands.runtime import MetricsPortOption, open_migrated_database, service_stop_event
from preempt.config import parse_duration_s
from preempt.errors import ConfigError
from preempt.observability import serve_metrics
from preempt.services import detect as detect_service
from preempt.storage.engine import describe
from preempt.streams import open_bus

logger = logging.getLogger(__name__)


@app.command("detect")
def detect(
    config: ConfigOption = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run (or help with) one cycle, then exit.")
    ] = False,
    every: Annotated[
        str | None, typer.Option("--every", help="Cycle interval, e.g. 10m (default: config).")
    ] = None,
    max_cycles: Annotated[
        int | None, typer.Option(min=1, help="Stop after planning this many cycles.")
    ] = None,
    metrics_port: MetricsPortOption = 0,
) -> None:
    """Judge new samples of every location every 10 minutes; several processes share a cycle."""
    if once and every:
        raise ConfigError("use either --once or --every, not both")
    overrides = {}
    if every:
        try:
            overrides["interval_s"] = parse_duration_s(every)
        except ValueError as exc:
            raise ConfigError(f"--every: {exc}") from exc
    settings = settings_from(config)
    if overrides:
        settings = settings.model_copy(
            update={"detect": settings.detect.model_copy(update=overrides)}
        )
    bus = open_bus(settings)
    engine = open_migrated_database(settings)
    serve_metrics(metrics_port)
    stop = service_stop_event()
    logger.info("detect: database %s, every %.0fs, method %s", describe(settings.database_url),
                settings.detect.interval_s, settings.detect.method)
    try:
        totals = detect_service.run(settings, bus=bus, engine=engine, stop=stop, once=once,
                                    max_cycles=max_cycles)
    finally:
        bus.close()
        engine.dispose()
    for line in totals.summaries:
        typer.echo(line)
    typer.echo(f"detect: {totals.line()}")

