"""`preempt ml-trainer`: the ML worker on ml_input → ml_output (SEED.md's train.py)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from preempt.cli import ConfigOption, app, settings_from
from preempt.commands.runtime import MetricsPortOption, open_migrated_database, service_stop_event
from preempt.observability import serve_metrics
from preempt.services import ml_trainer as trainer_service
from preempt.streams import open_bus

logger = logging.getLogger(__name__)


@app.command("ml-trainer")
def ml_trainer(
    config: ConfigOption = None,
    metrics_port: MetricsPortOption = 0,
    max_jobs: Annotated[
        int | None, typer.Option(min=1, help="Stop after answering this many jobs.")
    ] = None,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Stop when ml_input has nothing left to read.")
    ] = False,
) -> None:
    """Train/reuse Isolation Forests per location and metric, score ML jobs until SIGTERM."""
    settings = settings_from(config)
    bus = open_bus(settings)
    # The database only receives heartbeats; models and jobs never touch it.
    engine = open_migrated_database(settings)
    serve_metrics(metrics_port)
    stop = service_stop_event()
    try:
        stats = trainer_service.run(settings.ml, bus=bus, engine=engine, stop=stop,
                                    max_jobs=max_jobs, until_idle=until_idle)
    finally:
        bus.close()
        engine.dispose()
    typer.echo(f"ml-trainer: {stats.line()}")
