"""`preempt server`: the REST API and dashboard on :8080; `preempt server token`: a new token."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer

from preempt.cli import ConfigOption, app, settings_from
from preempt.commands.runtime import open_migrated_database
from preempt.observability import serve_metrics
from preempt.storage.engine import describe

logger = logging.getLogger(__name__)

server_app = typer.Typer(
    help="REST API + dashboard (SEED.md's server, port 8080).", invoke_without_command=True
)
app.add_typer(server_app, name="server")


@server_app.callback()
def server(
    ctx: typer.Context,
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address (server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (server.port, default 8080).")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="uvicorn worker processes (server.workers).")
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Also serve Prometheus metrics on this port (they are always at "
                     "/prometheus on the API port)."),
    ] = None,
) -> None:
    """Serve the API (and the built dashboard) until interrupted.

    Prometheus metrics are at /prometheus on the same port (GET /metrics is weather data).
    """
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    settings = settings_from(config)
    engine = open_migrated_database(settings)
    engine.dispose()
    bind = host or settings.server.host
    listen = port or settings.server.port
    count = workers or settings.server.workers
    logger.info("API on http://%s:%d (%d worker(s)), database %s, docs at /docs", bind, listen,
                count, describe(settings.database_url))
    serve_metrics(metrics_port)
    if count == 1:
        from preempt.api import create_app

        uvicorn.run(create_app(settings), host=bind, port=listen, log_config=None,
                    access_log=False, timeout_graceful_shutdown=5)
    else:
        # Each worker builds its own app from the same config and environment.
        if config is not None:
            os.environ["PREEMPT_CONFIG"] = str(config)
        uvicorn.run("preempt.api.factory:app_from_environment", factory=True, host=bind,
                    port=listen, workers=count, log_config=None, access_log=False,
                    timeout_graceful_shutdown=5)


@server_app.command("token")
def token(
    name: Annotated[str, typer.Option(help="Who holds it (shown as 'by' on decisions).")],
    role: Annotated[str, typer.Option(help="admin, editor or viewer.")] = "editor",
) -> None:
    """Print a new random token and the config lines that admit it (only its hash is stored)."""
    from preempt.api.security import RANK, hash_token, new_token

    if role not in RANK:
        raise typer.BadParameter("role must be admin, editor or viewer", param_hint="--role")
    secret = new_token()
    typer.echo(f"token (give to {name}, shown once): {secret}")
    typer.echo("add to config.yaml under server.auth.tokens:")
    typer.echo(f"  - name: {name}\n    role: {role}\n    sha256: {hash_token(secret)}")
