"""`preempt openmeteo-sim`: serve the Open-Meteo forecast emulator over HTTP."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from preempt.cli import app
from preempt.simulation import ANOMALY_KINDS, AnomalyConfig

logger = logging.getLogger(__name__)

Share = Annotated[float, typer.Option(min=0.0, max=1.0)]


@app.command("openmeteo-sim")
def openmeteo_sim(
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8090,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Weather and fault seed.")] = 0,
    anomaly_rate: Annotated[
        float, typer.Option(min=0.0, max=4.0, help="Injected anomalies per location, metric, day.")
    ] = 0.0,
    anomaly_kinds: Annotated[
        str, typer.Option(help=f"Comma list of {', '.join(ANOMALY_KINDS)}.")
    ] = ",".join(ANOMALY_KINDS),
    rate_limit: Annotated[
        bool, typer.Option("--rate-limit/--no-rate-limit", help="Enforce free-tier limits.")
    ] = True,
    calls_per_minute: Annotated[float, typer.Option(min=1)] = 600,
    calls_per_hour: Annotated[float, typer.Option(min=1)] = 5000,
    calls_per_day: Annotated[float, typer.Option(min=1)] = 10000,
    max_locations: Annotated[int, typer.Option(min=1, help="Locations per request.")] = 1000,
    grid_deg: Annotated[float, typer.Option(min=0.01, max=1.0, help="Grid cell size.")] = 0.1,
    fail_429: Share = 0.0,
    fail_503: Share = 0.0,
    slow: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of slow responses.")] = 0.0,
    slow_s: Annotated[float, typer.Option(min=0.0)] = 2.0,
    reset: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of dropped connections.")
    ] = 0.0,
    malformed: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of cut JSON bodies.")
    ] = 0.0,
    bad_location: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of corrupted locations in a body.")
    ] = 0.0,
) -> None:
    """Local emulator of the Open-Meteo forecast API with labelled anomalies (/_sim/labels)."""
    kinds = tuple(k.strip() for k in anomaly_kinds.split(",") if k.strip())
    try:
        anomalies = AnomalyConfig(rate_per_day=anomaly_rate, kinds=kinds)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--anomaly-kinds") from exc
    import uvicorn  # the server stack loads only when the emulator runs

    from preempt.openmeteo.emulator import (
        EmulatorConfig,
        FaultSettings,
        RateLimits,
        SimSettings,
        create_app,
    )

    config = EmulatorConfig(
        sim=SimSettings(seed=seed, anomalies=anomalies, grid_deg=grid_deg),
        rate_limit=rate_limit,
        limits=RateLimits(calls_per_minute, calls_per_hour, calls_per_day),
        faults=FaultSettings(
            share_429=fail_429,
            share_503=fail_503,
            share_slow=slow,
            slow_s=slow_s,
            share_reset=reset,
            share_malformed=malformed,
            share_bad_location=bad_location,
        ),
        max_locations=max_locations,
    )
    logger.info(
        "Open-Meteo emulator on http://%s:%d/v1/forecast (seed %d, anomalies %.3g/day, "
        "rate limit %s)",
        host,
        port,
        seed,
        anomaly_rate,
        "on" if rate_limit else "off",
    )
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False)
