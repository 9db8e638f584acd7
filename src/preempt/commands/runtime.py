"""What every service command does at start: open a migrated database, stop on signals,
keep memory it no longer uses from piling up."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer
from sqlalchemy.engine import Engine

from preempt.config import Settings
from preempt.errors import ConfigError
from preempt.memory import trim_periodically, tune_allocator
from preempt.storage import migrate as migrations
from preempt.storage.engine import check_database, create_engine_for, describe

logger = logging.getLogger(__name__)

MetricsPortOption = Annotated[
    int, typer.Option(envvar="PREEMPT_METRICS_PORT", help="Serve Prometheus metrics (0: off).")
]


def open_migrated_database(settings: Settings, **engine_kwargs: object) -> Engine:
    """An engine on a reachable, fully migrated database; ConfigError (one line) otherwise."""
    engine = create_engine_for(settings.database_url, **engine_kwargs)
    check_database(engine)
    if not migrations.status(engine).is_current:
        engine.dispose()
        raise ConfigError(
            f"database {describe(settings.database_url)} is not migrated: run 'preempt migrate up'"
        )
    return engine


def stop_on_signals(stop: threading.Event) -> None:
    """First SIGTERM/SIGINT: finish the current batch and stop; a second one: default action."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s: finishing the current batch", signal.Signals(signum).name)
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def service_stop_event() -> threading.Event:
    """The stop event of a long-running service: set by SIGTERM/SIGINT (see stop_on_signals).
    Meanwhile memory freed after each cycle goes back to the system (see preempt.memory)."""
    stop = threading.Event()
    stop_on_signals(stop)
    tune_allocator()
    trim_periodically(stop)
    return stop
