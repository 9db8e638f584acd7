"""The one `preempt` command: each subcommand loads Settings once and starts one service."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from preempt.config import Settings, load_settings
from preempt.errors import PreemptError
from preempt.logs import configure_logging

app = typer.Typer(
    name="preempt",
    help="Proactive alarm creation from anomaly detection on real-time weather metrics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Application settings (default: ./config.yaml)."),
]


def settings_from(config: Path | None) -> Settings:
    """Settings for a command; a bad config stops here with one line (see main)."""
    return load_settings(config)


@app.callback()
def _root(
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    json_logs: Annotated[bool, typer.Option("--json-logs", help="One JSON object per log line.")]
    = False,
) -> None:
    configure_logging(log_level, json_lines=json_logs)


def main() -> None:
    """Entry point: known errors become one line on stderr and exit code 2, no traceback."""
    try:
        app()
    except PreemptError as exc:
        logging.getLogger("preempt").debug("stopping on error", exc_info=True)
        print(f"preempt: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


# Subcommands live beside their services; importing registers them on `app`.
from preempt.commands import alarms as _alarms  # noqa: E402,F401
from preempt.commands import collect as _collect  # noqa: E402,F401
from preempt.commands import database as _database  # noqa: E402,F401
from preempt.commands import detect as _detect  # noqa: E402,F401
from preempt.commands import ml_trainer as _ml_trainer  # noqa: E402,F401
from preempt.commands import openmeteo_sim as _openmeteo_sim  # noqa: E402,F401
from preempt.commands import score as _score  # noqa: E402,F401
from preempt.commands import server as _server  # noqa: E402,F401
from preempt.commands import store as _store  # noqa: E402,F401
from preempt.commands import up as _up  # noqa: E402,F401
