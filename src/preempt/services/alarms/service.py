"""The alarms service loop: evaluate every interval_s in one locked transaction, wake the
delivery worker when something was queued, beat the heartbeat."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import Histogram
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from preempt.config import AlarmSettings
from preempt.services.alarms.delivery import DeliveryWorker, with_db_retry
from preempt.services.alarms.evaluation import CycleResult, RuleCache, evaluate_new_samples, utcnow
from preempt.storage import alarms as store
from preempt.storage.heartbeats import Status, record_heartbeat

logger = logging.getLogger(__name__)

SERVICE = "alarms"
RESCAN_CYCLES = 3
CYCLE_SECONDS = Histogram("preempt_alarm_cycle_seconds", "One evaluation transaction",
                          buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))


@dataclass
class AlarmStats:
    cycles: int = 0
    samples: int = 0
    transitions: int = 0
    queued: int = 0
    started_at: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        return (f"{self.cycles} cycles, {self.samples} samples judged, {self.transitions} "
                f"transitions, {self.queued} notifications queued")


class AlarmService:
    """The evaluation loop plus its delivery worker thread; `run()` is
    `while not stop: run_once()`."""

    def __init__(
        self,
        settings: AlarmSettings,
        *,
        engine: Engine,
        stop: threading.Event | None = None,
        now: Callable[[], datetime] = utcnow,
        deliver: bool = True,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self._owns_stop = stop is None
        self.stop = stop or threading.Event()
        self.now = now
        self.wake = threading.Event()
        self._worker_stop = threading.Event()  # set by drain(), never the caller's `stop`
        self.worker = DeliveryWorker(settings, engine=engine, stop=self._worker_stop,
                                     wake=self.wake, now=now) if deliver else None
        self.rules = RuleCache()
        # Id ranges of the last cycles that had gaps: read again, so that a sample whose store
        # transaction took its id early but committed late is still judged.
        self._gaps: deque[tuple[int, int]] = deque(maxlen=RESCAN_CYCLES)
        self.totals = AlarmStats()
        self._next_heartbeat = 0.0
        self._thread: threading.Thread | None = None

    def start_worker(self) -> None:
        if self.worker is not None and self._thread is None:
            self._thread = threading.Thread(target=self.worker.run, name="alarm-deliveries",
                                            daemon=True)
            self._thread.start()

    def run_once(self) -> CycleResult:
        """One evaluation transaction: lock the watermark, judge new samples, commit."""
        started = time.perf_counter()

        def cycle() -> CycleResult:
            with self.engine.begin() as conn:
                since = store.read_cursor(conn, lock=True)
                result = evaluate_new_samples(conn, since, settings=self.settings,
                                              rules=self.rules.get(conn), now=self.now(),
                                              rescan=list(self._gaps))
                if result.last_id != since:
                    store.write_cursor(conn, result.last_id)
                return result

        result = with_db_retry(cycle)
        self._gaps.append(result.gaps or (0, 0))
        CYCLE_SECONDS.observe(time.perf_counter() - started)
        if result.queued:
            self.wake.set()
        t = self.totals
        t.cycles, t.samples = t.cycles + 1, t.samples + result.samples
        t.transitions, t.queued = t.transitions + result.transitions, t.queued + result.queued
        if result.transitions:
            logger.info("alarms: %d samples, %d transitions, %d notifications queued, "
                        "%d suppressed (watermark %d)", result.samples, result.transitions,
                        result.queued, result.suppressed, result.last_id)
        return result

    def run(self, *, max_cycles: int | None = None, until_idle: bool = False,
            background_delivery: bool = True) -> AlarmStats:
        """Evaluate every interval_s (at once again while a full batch came back); deliveries
        run in a background thread unless background_delivery is False (see deliver_once)."""
        if background_delivery:
            self.start_worker()
        try:
            while not self.stop.is_set():
                began = time.monotonic()
                try:
                    result = self.run_once()
                except OperationalError as exc:
                    logger.warning("alarms: database unavailable, retrying: %s",
                                   str(exc.orig).splitlines()[0])
                    result = None
                self._heartbeat("ok")
                if max_cycles is not None and self.totals.cycles >= max_cycles:
                    break
                busy = result is not None and result.samples >= self.settings.batch_rows
                if until_idle and not busy:
                    break
                if not busy:  # cycles start every interval_s, however long one takes
                    self.stop.wait(max(0.0, self.settings.interval_s -
                                       (time.monotonic() - began)))
        finally:
            logger.info("alarms stopping: %s", self.totals.line())
            self._heartbeat("stopped", force=True)
        return self.totals

    def deliver_once(self) -> int:
        """Burst mode without the thread: send what is due now, once; returns how many."""
        return self.worker.deliver_due() if self.worker is not None else 0

    def close(self) -> None:
        """Release the delivery worker's HTTP client and threads (when its thread never ran)."""
        if self.worker is not None and self._thread is None:
            self.worker.close()

    def drain(self, timeout_s: float = 10.0) -> None:
        """Stop the delivery worker (and the loop, when this service owns its stop event) and
        wait for the worker to finish its round. A caller's stop event is never set here."""
        if self._owns_stop:
            self.stop.set()
        self._worker_stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _heartbeat(self, status: Status, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_heartbeat:
            return
        self._next_heartbeat = now + self.settings.heartbeat_every_s
        try:
            with self.engine.begin() as conn:
                record_heartbeat(conn, SERVICE, status=status, info={
                    "cycles": self.totals.cycles, "samples": self.totals.samples,
                    "transitions": self.totals.transitions, "queued": self.totals.queued})
        except OperationalError as exc:
            logger.warning("heartbeat not recorded: %s", str(exc.orig).splitlines()[0])


def run(
    settings: AlarmSettings,
    *,
    engine: Engine,
    stop: threading.Event | None = None,
    max_cycles: int | None = None,
) -> AlarmStats:
    """Run the alarms service until `stop` is set (or max_cycles); for `preempt up` too."""
    service = AlarmService(settings, engine=engine, stop=stop)
    try:
        return service.run(max_cycles=max_cycles)
    finally:
        service.drain()
