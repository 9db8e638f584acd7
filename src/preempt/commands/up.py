"""`preempt up`: everything in one process (the embedded default behind `make run`/`make demo`)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from preempt.cli import ConfigOption, app
from preempt.config import Settings, load_settings
from preempt.memory import trim_periodically, tune_allocator
from preempt.services.all_in_one import probe_open_meteo, seed_if_empty, start_services
from preempt.storage import migrate as migrations
from preempt.storage.engine import check_database, create_engine_for, describe, ensure_database
from preempt.streams import open_bus

logger = logging.getLogger(__name__)

DEFAULT_CSV = Path("data/locations.csv")
# The emulator is ours: the demo lifts the free tier's call budget (see OPEN_METEO.md §6).
DEMO_BUDGET = {"openmeteo.calls_per_minute": 100_000, "openmeteo.calls_per_hour": 1_000_000,
               "openmeteo.calls_per_day": 10_000_000, "openmeteo.batch_size": 1000}


@app.command("up")
def up(
    config: ConfigOption = None,
    demo: Annotated[bool, typer.Option(
        "--demo", help="Use the built-in Open-Meteo emulator (simulated, injected anomalies)."
    )] = False,
    port: Annotated[int | None, typer.Option(help="API/dashboard port (server.port).")] = None,
    host: Annotated[str | None, typer.Option(help="Bind address (server.host).")] = None,
    sim_port: Annotated[int, typer.Option(help="Emulator port with --demo.")] = 8090,
    sim_seed: Annotated[int, typer.Option(help="Emulator weather seed with --demo.")] = 0,
    anomaly_rate: Annotated[float, typer.Option(
        min=0.0, max=4.0, help="Injected anomalies per location, metric and day with --demo."
    )] = 0.05,
    csv_path: Annotated[Path, typer.Option("--csv", help="Locations to seed when none.")]
    = DEFAULT_CSV,
) -> None:
    """Run every service in one process: collect, store, detect, ML trainer, alarms, API."""
    tune_allocator()  # before any thread starts
    overrides: dict[str, object] = {}
    if demo:
        overrides = {**DEMO_BUDGET,
                     "openmeteo.url": f"http://127.0.0.1:{sim_port}/v1/forecast"}
    settings = load_settings(config, overrides=overrides)
    ensure_database(settings.database_url)
    engine = create_engine_for(settings.database_url, pool_size=10, max_overflow=10)
    check_database(engine)
    migrations.upgrade(engine)
    seed_if_empty(engine, csv_path)
    stop = threading.Event()
    trim_periodically(stop)
    if demo:
        _start_emulator(sim_port, seed=sim_seed, anomaly_rate=anomaly_rate, stop=stop)
    else:
        _warn_if_unreachable(settings)
    bus = open_bus(settings, in_process=settings.redis_url is None)
    supervisor = start_services(settings, engine=engine, bus=bus, stop=stop)
    from preempt.api import create_app

    bind, listen = host or settings.server.host, port or settings.server.port
    logger.info("Preempt is up: dashboard and API on http://localhost:%d (database %s, %s)",
                listen, describe(settings.database_url),
                "Redis streams" if settings.redis_url else "in-process streams")
    server = uvicorn.Server(uvicorn.Config(
        create_app(settings, engine=engine, bus=bus), host=bind, port=listen,
        log_config=None, access_log=False, timeout_graceful_shutdown=5,
    ))
    try:
        server.run()  # returns on SIGINT/SIGTERM (uvicorn handles both)
    finally:
        logger.info("stopping: services finish their current batch")
        stop.set()
        still_running = supervisor.join(timeout_s=60)
        if still_running:
            logger.warning("still busy after 60 s, left pending: %s", ", ".join(still_running))
        bus.close()
        engine.dispose()


def _warn_if_unreachable(settings: Settings) -> None:
    reason = probe_open_meteo(settings.openmeteo.url)
    if reason:
        logger.error(
            "Open-Meteo cannot be reached at %s (%s): the collector keeps retrying with backoff; "
            "without internet access run 'make demo' (the built-in emulator) instead",
            settings.openmeteo.url, reason,
        )


def _start_emulator(port: int, *, seed: int, anomaly_rate: float, stop: threading.Event) -> None:
    from preempt.openmeteo.emulator import EmulatorConfig, SimSettings, create_app
    from preempt.simulation import AnomalyConfig

    config = EmulatorConfig(
        sim=SimSettings(seed=seed, anomalies=AnomalyConfig(rate_per_day=anomaly_rate)),
        rate_limit=False,
    )
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port,
                                           log_config=None, access_log=False))
    # In a thread that is not the main one, uvicorn leaves the signal handlers alone.
    threading.Thread(target=server.run, name="openmeteo-sim", daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)

    def shut_down_with_the_rest() -> None:
        stop.wait()
        server.should_exit = True

    threading.Thread(target=shut_down_with_the_rest, daemon=True).start()
    logger.info("demo: SIMULATED DATA from the built-in Open-Meteo emulator on :%d", port)
