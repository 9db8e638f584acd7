"""`preempt collect [--once | --every 5m]`: Open-Meteo → stream weather_metrics."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from preempt.cli import ConfigOption, app, settings_from
from preempt.commands.runtime import MetricsPortOption, open_migrated_database, service_stop_event
from preempt.config import parse_duration_s
from preempt.observability import serve_metrics
from preempt.services import collect as collect_service
from preempt.storage.engine import describe
from preempt.streams import open_bus

logger = logging.getLogger(__name__)


@app.command("collect")
def collect(
    config: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit.")] = False,
    every: Annotated[
        str | None, typer.Option(help="Run a cycle every DURATION (e.g. 5m); default from config.")
    ] = None,
    metrics_port: MetricsPortOption = 0,
) -> None:
    """Fetch history for new locations, back-fill gaps, then current values on a schedule."""
    if once and every:
        raise typer.BadParameter("use either --once or --every", param_hint="--every")
    settings = settings_from(config)
    try:
        every_s = None if once else parse_duration_s(every or settings.collect.interval_s)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--every") from exc
    bus = open_bus(settings)
    engine = open_migrated_database(settings)
    serve_metrics(metrics_port)
    stop = service_stop_event()
    logger.info(
        "collect: %s %s, database %s",
        settings.openmeteo.url,
        "once" if every_s is None else f"every {every_s:.0f} s",
        describe(settings.database_url),
    )
    try:
        if sys.stderr.isatty():
            with _bar() as (bar, task):

                def show(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                summaries = collect_service.run(
                    settings, engine=engine, bus=bus, every_s=every_s, stop=stop, progress=show
                )
        else:
            summaries = collect_service.run(
                settings,
                engine=engine,
                bus=bus,
                every_s=every_s,
                stop=stop,
                progress=_log_progress(),
            )
    finally:
        bus.close()
        engine.dispose()
    if summaries and every_s is None:
        typer.echo(summaries[-1].line())


def _bar() -> _BarContext:
    return _BarContext()


class _BarContext:
    def __enter__(self) -> tuple[Progress, TaskID]:
        self.progress = Progress(
            TextColumn("collect"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("locations"),
            TimeElapsedColumn(),
            transient=True,
        )
        self.progress.start()
        return self.progress, self.progress.add_task("collect", total=None)

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def _log_progress(every: int = 1000) -> collect_service.Progress:
    """Progress as periodic log lines (not a terminal): every `every` locations."""
    last = [0]

    def log(done: int, total: int) -> None:
        if done == total or done - last[0] >= every:
            last[0] = done
            if total:
                logger.info("collect progress: %d/%d locations", done, total)

    return log

