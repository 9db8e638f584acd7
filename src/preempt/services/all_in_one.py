"""`preempt up`: every service in one process, on one database and one stream bus.

Start-up order is SEED.md's: migrate, seed the locations if there are none, bootstrap history
(the first collect cycle), and once the store has drained it, detect; then collect and detect
keep their own schedules. Each service runs in a supervised thread: an unexpected error is
logged with its context and the service restarts after a pause, as a container would. The API
runs in the main thread; numpy and scikit-learn release the GIL in their inner loops, so
detection and training do not stall requests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from preempt.config import Settings
from preempt.locations_csv import parse_locations_csv
from preempt.services import alarms, collect, detect, ml_trainer, store
from preempt.storage.locations import count_locations, insert_locations
from preempt.streams import StreamBus, names

logger = logging.getLogger(__name__)

RESTART_PAUSE_S = 10.0
DRAIN_TIMEOUT_S = 600.0


@dataclass
class Supervisor:
    """Runs services in threads until `stop`; restarts a service that died unexpectedly."""

    stop: threading.Event
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, name: str, service: Callable[[], object]) -> None:
        thread = threading.Thread(target=self._supervise, args=(name, service), name=name,
                                  daemon=True)
        thread.start()
        self.threads.append(thread)

    def _supervise(self, name: str, service: Callable[[], object]) -> None:
        while not self.stop.is_set():
            try:
                service()
                return
            except Exception:
                logger.exception("%s stopped on an unexpected error; restarting in %.0f s",
                                 name, RESTART_PAUSE_S)
                self.stop.wait(RESTART_PAUSE_S)

    def join(self, timeout_s: float) -> list[str]:
        """Wait for every service to finish its batch; names of those still running."""
        deadline = time.monotonic() + timeout_s
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t.name for t in self.threads if t.is_alive()]


def seed_if_empty(engine: Engine, csv_path: Path) -> int:
    """Import the locations CSV into an empty locations table; returns how many were added."""
    with engine.begin() as conn:
        if count_locations(conn):
            return 0
        parsed = parse_locations_csv(csv_path.read_text(encoding="utf-8-sig"))
        for problem in parsed.problems:
            logger.warning("%s: %s", csv_path, problem)
        added = insert_locations(conn, parsed.locations)
    logger.info("Import complete! Successfully inserted %d locations", added)
    return added


def probe_open_meteo(url: str, timeout_s: float = 5.0) -> str | None:
    """None when the forecast endpoint answers; otherwise the reason, in a few words."""
    try:
        response = httpx.get(url, params={"latitude": 0, "longitude": 0,
                                          "current": "temperature_2m"}, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if response.status_code >= 500:
        return f"HTTP {response.status_code}"
    return None


def wait_until_stored(bus: StreamBus, group: str, stop: threading.Event) -> None:
    """Block until the store group has read and acknowledged everything published so far."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while not stop.is_set() and time.monotonic() < deadline:
        info = bus.group_info(names.WEATHER_METRICS, group)
        if info is not None and not info.lag and not info.pending:
            return
        stop.wait(1.0)


def start_services(
    settings: Settings, *, engine: Engine, bus: StreamBus, stop: threading.Event
) -> Supervisor:
    """Start store, ML trainer, alarms, then the collect → detect pipeline, in threads."""
    supervisor = Supervisor(stop)
    bus.ensure_group(names.WEATHER_METRICS, settings.store.group)
    supervisor.start("store", lambda: store.run(settings.store, bus=bus, engine=engine,
                                                stop=stop))
    supervisor.start("ml-trainer", lambda: ml_trainer.run(settings.ml, bus=bus, engine=engine,
                                                          stop=stop))
    supervisor.start("alarms", lambda: alarms.run(settings.alarms, engine=engine, stop=stop))

    detect_started = threading.Event()

    def pipeline() -> None:
        # Bootstrap first so that the first detect cycle sees the 7 days of history.
        collect.run(settings, engine=engine, bus=bus, max_cycles=1, stop=stop)
        wait_until_stored(bus, settings.store.group, stop)
        if stop.is_set():
            return
        if not detect_started.is_set():  # a restarted pipeline must not start a second one
            detect_started.set()
            supervisor.start("detect", lambda: detect.run(settings, bus=bus, engine=engine,
                                                          stop=stop))
        collect.run(settings, engine=engine, bus=bus, every_s=settings.collect.interval_s,
                    stop=stop)

    supervisor.start("collect", pipeline)
    return supervisor
