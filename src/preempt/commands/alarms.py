"""`preempt alarms [--once | --every 10s]`: evaluate new samples against the alarm rules and send
notifications; `preempt alarms export`: rules as Prometheus or Grafana alert rules."""

from __future__ import annotations

import json
import logging
from typing import Annotated

import typer

from preempt.cli import ConfigOption, app, settings_from
from preempt.commands.runtime import MetricsPortOption, open_migrated_database, service_stop_event
from preempt.config import parse_duration_s
from preempt.observability import serve_metrics
from preempt.storage.engine import check_database, create_engine_for, describe

logger = logging.getLogger(__name__)

alarms_app = typer.Typer(
    help="Alarm evaluation and notifications (accepted suggestions and custom rules).",
    invoke_without_command=True,
)
app.add_typer(alarms_app, name="alarms")


@alarms_app.callback()
def alarms(
    ctx: typer.Context,
    config: ConfigOption = None,
    once: Annotated[
        bool, typer.Option("--once", help="Judge what is new, send what is due, exit.")
    ] = False,
    every: Annotated[
        str | None,
        typer.Option(help="Evaluate every DURATION (e.g. 10s); default alarms.interval_s."),
    ] = None,
    metrics_port: MetricsPortOption = 0,
) -> None:
    """Evaluate new samples against the enabled rules until SIGTERM/SIGINT."""
    if ctx.invoked_subcommand is not None:
        return
    if once and every:
        raise typer.BadParameter("use either --once or --every", param_hint="--every")
    settings = settings_from(config)
    try:
        interval_s = parse_duration_s(every) if every else settings.alarms.interval_s
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--every") from exc
    if interval_s <= 0:
        raise typer.BadParameter("must be positive", param_hint="--every")
    engine = open_migrated_database(settings)
    serve_metrics(metrics_port)
    section = settings.alarms.model_copy(update={"interval_s": interval_s})
    stop = service_stop_event()
    logger.info("alarms: every %.0f s, %d channel(s), database %s", interval_s,
                len(section.channels), describe(settings.database_url))
    from preempt.services import alarms as alarm_service  # heavy: only when it runs

    service = alarm_service.AlarmService(section, engine=engine, stop=stop)
    try:
        if once:
            stats = service.run(until_idle=True, background_delivery=False)
            sent = service.deliver_once()
            service.close()
            typer.echo(f"alarms: {stats.line()}, {sent} delivery attempt(s)")
        else:
            stats = service.run()
            service.drain()
            typer.echo(f"alarms: {stats.line()}")
    finally:
        engine.dispose()


@alarms_app.command("export")
def export(
    config: ConfigOption = None,
    fmt: Annotated[
        str, typer.Option("--format", help="prometheus (YAML rule file) or grafana (JSON).")
    ] = "prometheus",
) -> None:
    """Print every alarm rule as a Prometheus rule file or as Grafana alert rules."""
    from preempt.alarms.export import grafana_rules, prometheus_yaml
    from preempt.api.alarms_routes import export_rule
    from preempt.storage.alarms import list_rules

    if fmt not in ("prometheus", "grafana"):
        raise typer.BadParameter("prometheus or grafana", param_hint="--format")
    settings = settings_from(config)
    engine = create_engine_for(settings.database_url)
    check_database(engine)
    with engine.connect() as conn:
        rules = [export_rule(r, settings.alarms) for r in list_rules(conn)]
    engine.dispose()
    prefix = settings.alarms.prometheus_metric_prefix
    if fmt == "prometheus":
        typer.echo(prometheus_yaml(rules, metric_prefix=prefix), nl=False)
    else:
        typer.echo(json.dumps(grafana_rules(rules, metric_prefix=prefix), indent=2))

