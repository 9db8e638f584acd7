"""Collect: Open-Meteo (or the emulator) → stream weather_metrics, one WeatherBatch per location.

Each cycle reads the locations and each one's newest stored sample from the database, then:
- a location with no data gets `history_days` of hourly history (kind "history");
- a location that would otherwise miss a full hour (the collector was down, or the budget
  spreads locations over cycles) gets the hourly values since its newest sample ("backfill");
- the others get the current 15-minute values (kind "current") once a new 15-minute step is
  there (Open-Meteo's `current` changes every 15 minutes; polling faster costs calls only).
Accumulated metrics (precipitation, rain, snowfall) are sums over the step before their time:
a `current` value covers 15 minutes, an hourly one 60. So that one stored series never mixes the
two, they are only taken from hourly data: once a new hour is complete a location gets an
hourly fetch (kind "backfill", all metrics) instead of its `current` one, at no extra call.
Runs never overlap (a lock on the bus); the call budget decides how many locations one cycle may
fetch, stalest first; a stream longer than `stream_maxlen` (the store is behind) pauses
publishing instead of trimming unread entries.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import numpy as np
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from preempt.config import Settings
from preempt.domain import Location
from preempt.errors import UpstreamError
from preempt.openmeteo import (
    SOURCE,
    FetchReport,
    LocationSeries,
    OpenMeteoClient,
    locations_per_cycle,
)
from preempt.storage.heartbeats import Status, record_heartbeat
from preempt.storage.locations import list_locations
from preempt.storage.metrics import newest_sample_times
from preempt.streams import StreamBus, names
from preempt.streams.bus import HeldLock
from preempt.streams.messages import WeatherBatch

logger = logging.getLogger(__name__)

SERVICE = "collect"
HOUR = 3600
QUARTER = 900
ACCUMULATED = ("precipitation", "rain", "snowfall")
MAX_BACKFILL_HOURS = 92 * 24

Kind = Literal["history", "backfill", "current"]
Progress = Callable[[int, int], None]  # (locations done, locations planned)

CALLS = Counter("preempt_collect_calls_total", "Open-Meteo call weight used")
REQUESTS = Counter("preempt_collect_requests_total", "HTTP requests sent to Open-Meteo")
ERRORS = Counter("preempt_collect_errors_total", "Open-Meteo problems by kind", ["kind"])
SAMPLES = Counter("preempt_collect_samples_published_total", "Samples published to the stream")
LOCATIONS = Counter("preempt_collect_locations_total", "Locations fetched", ["kind"])
BUDGET_LEFT = Gauge("preempt_collect_budget_left_calls", "Call budget left", ["period"])
CYCLE_SECONDS = Histogram(
    "preempt_collect_cycle_seconds",
    "Duration of one collect cycle",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
)


@dataclass
class CycleSummary:
    """What one cycle did; `line()` is the one-line summary logged and printed."""

    planned: Tally[str] = field(default_factory=Tally)
    fetched: Tally[str] = field(default_factory=Tally)
    samples: int = 0
    messages: int = 0
    calls: float = 0.0
    requests: int = 0
    errors: Tally[str] = field(default_factory=Tally)
    deferred: int = 0  # locations left for later cycles by the budget
    up_to_date: int = 0  # locations whose newest sample is the current 15-minute step
    skipped: str | None = None  # why the whole cycle did nothing
    duration_s: float = 0.0

    def line(self) -> str:
        if self.skipped:
            return f"collect skipped: {self.skipped}"
        kinds = ", ".join(f"{k} {self.fetched[k]}/{self.planned[k]}" for k in sorted(self.planned))
        errors = ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items())) or "none"
        deferred = f", {self.deferred} deferred by the budget" if self.deferred else ""
        if self.up_to_date:
            deferred += f", {self.up_to_date} already up to date"
        return (
            f"collect: locations {sum(self.fetched.values())} ({kinds or 'none'}){deferred}; "
            f"{self.samples} samples in {self.messages} messages; calls {self.calls:g} in "
            f"{self.requests} requests; errors: {errors}; {self.duration_s:.1f} s"
        )


@dataclass(frozen=True, slots=True)
class _Task:
    location: Location
    kind: Kind
    newest_s: int | None  # newest sample already stored/published (epoch s)


class Collector:
    """One collector process; `run_once()` is one cycle, `run()` repeats it on a schedule."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine,
        bus: StreamBus,
        client: OpenMeteoClient,
        clock: Callable[[], float] = time.time,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.cfg = settings.collect
        self.engine = engine
        self.bus = bus
        self.client = client
        self.clock = clock
        self.stop = stop or threading.Event()
        self.metrics = tuple(settings.monitored_fields)
        self.current_metrics = tuple(m for m in self.metrics if m not in ACCUMULATED)
        # The accumulated metric whose newest hour says when a location needs hourly data.
        self.hourly_anchor = next((m for m in self.metrics if m in ACCUMULATED), None)
        self._published: dict[int, int] = {}  # location id -> newest time published (epoch s)
        self._published_hourly: dict[int, int] = {}  # ... of hourly data (history, backfill)
        self._budget_note_logged = False

    # --- one cycle ---------------------------------------------------------------------------

    def run_once(self, *, progress: Progress | None = None) -> CycleSummary:
        started = time.monotonic()
        summary = CycleSummary()
        lock = self.bus.try_lock(names.COLLECT_LOCK, ttl_s=self.cfg.lock_ttl_s)
        if lock is None:
            summary.skipped = "another collector is running (lock held)"
            logger.info("%s", summary.line())
            return summary
        try:
            with lock:
                self._cycle(summary, lock, progress)
        finally:
            summary.duration_s = time.monotonic() - started
            CYCLE_SECONDS.observe(summary.duration_s)
            for period, left in self.client.budget.remaining().items():
                BUDGET_LEFT.labels(period).set(left)
        logger.info("%s", summary.line())
        self._heartbeat(summary)
        return summary

    def _cycle(self, summary: CycleSummary, lock: HeldLock, progress: Progress | None) -> None:
        if (length := self.bus.length(names.WEATHER_METRICS)) > self.cfg.stream_maxlen:
            summary.skipped = (
                f"stream {names.WEATHER_METRICS} holds {length} entries (> {self.cfg.stream_maxlen}"
                "): the store is behind, not publishing more"
            )
            return
        now_s = int(self.clock())
        tasks = self._plan(now_s, summary)
        total = len(tasks)
        done = 0
        if progress:
            progress(0, total)
        for kind in ("history", "backfill", "current"):
            group = [t for t in tasks if t.kind == kind]
            for chunk in _chunks(group, self.client.batch_size):
                if self.stop.is_set():
                    return
                report = self._fetch(kind, chunk, now_s)
                self._account(report, kind, summary)
                self._publish(chunk, report, kind, summary)
                lock.refresh()
                done += len(chunk)
                if progress:
                    progress(done, total)
                if report.stopped_by:
                    summary.errors[f"stopped_by_{report.stopped_by}"] += 1
                    return

    def _plan(self, now_s: int, summary: CycleSummary) -> list[_Task]:
        try:
            with self.engine.connect() as conn:
                locations = list_locations(conn)
                newest_db = newest_sample_times(conn)
                newest_hourly_db = (
                    newest_sample_times(conn, metric_type=self.hourly_anchor)
                    if self.hourly_anchor else {}
                )
        except (OperationalError, InterfaceError) as exc:
            raise UpstreamError(f"database unavailable: {exc.orig or exc}") from exc
        current_step = now_s // QUARTER * QUARTER
        last_hour = now_s // HOUR * HOUR
        tasks: list[_Task] = []
        for loc in locations:
            newest = max(_epoch(newest_db.get(loc.id)), self._published.get(loc.id, -1))
            newest_hourly = max(_epoch(newest_hourly_db.get(loc.id)),
                                self._published_hourly.get(loc.id, -1))
            if newest < 0:
                tasks.append(_Task(loc, "history", None))
            elif self.hourly_anchor and newest_hourly < last_hour:
                # A new hour is complete: its accumulated values come only from hourly data.
                since = newest_hourly if newest_hourly >= 0 else newest
                tasks.append(_Task(loc, "backfill", since))
            elif (newest // HOUR + 1) * HOUR < current_step:
                # A full hour between the newest sample and the current step would be missing.
                tasks.append(_Task(loc, "backfill", newest))
            elif newest < current_step and self.current_metrics:
                tasks.append(_Task(loc, "current", newest))
            else:
                summary.up_to_date += 1  # `current` changes every 15 min: nothing new yet
        fits = locations_per_cycle(
            len(tasks),
            interval_s=self.cfg.interval_s,
            weight_per_location=1.0,
            limits=self.client.budget.limits,
        )
        if fits < len(tasks):
            if not self._budget_note_logged:
                limits = self.client.budget.limits
                logger.warning(
                    "%d locations due every %.0f s need about %d calls/day but the budget allows "
                    "%.0f/day (%.0f/h): fetching %d locations per cycle, stalest first",
                    len(tasks),
                    self.cfg.interval_s,
                    math.ceil(len(tasks) * 86400 / self.cfg.interval_s),
                    limits.per_day,
                    limits.per_hour,
                    fits,
                )
                self._budget_note_logged = True
            tasks.sort(key=lambda t: (t.newest_s if t.newest_s is not None else -1, t.location.id))
            summary.deferred = len(tasks) - fits
            tasks = tasks[:fits]
        for task in tasks:
            summary.planned[task.kind] += 1
        return tasks

    def _fetch(self, kind: Kind, chunk: Sequence[_Task], now_s: int) -> FetchReport:
        coords = [(t.location.latitude, t.location.longitude) for t in chunk]
        if kind == "current":
            return self.client.fetch_current(coords, self.current_metrics)
        if kind == "history":
            hours = 24 * self.cfg.history_days - 1
        else:
            gaps = [now_s // HOUR * HOUR - (t.newest_s or 0) for t in chunk]
            hours = min(MAX_BACKFILL_HOURS, max(1, math.ceil(max(gaps) / HOUR)))
        return self.client.fetch_hourly(coords, self.metrics, past_hours=hours, forecast_hours=1)

    def _account(self, report: FetchReport, kind: Kind, summary: CycleSummary) -> None:
        summary.calls += report.calls_used
        summary.requests += report.requests
        summary.errors.update(report.errors)
        summary.fetched[kind] += report.fetched
        CALLS.inc(report.calls_used)
        REQUESTS.inc(report.requests)
        LOCATIONS.labels(kind).inc(report.fetched)
        for error, count in report.errors.items():
            ERRORS.labels(error).inc(count)

    def _publish(
        self, chunk: Sequence[_Task], report: FetchReport, kind: Kind, summary: CycleSummary
    ) -> None:
        fetched_at = datetime.fromtimestamp(self.clock(), UTC)
        payloads: list[bytes] = []
        newest: list[tuple[int, int]] = []
        samples = 0
        for task, series in zip(chunk, report.series, strict=True):
            if series is None:
                continue
            batch = _batch(task, series, kind, fetched_at, self._published.get(task.location.id))
            if batch is None:
                continue
            payloads.append(batch.encode())
            newest.append((task.location.id, batch.times[-1]))
            samples += batch.sample_count()
        if not payloads:
            return
        self.bus.add_many(names.WEATHER_METRICS, payloads)
        for location_id, last in newest:  # only after the stream has them
            self._published[location_id] = max(last, self._published.get(location_id, -1))
            if kind != "current":
                hourly = self._published_hourly.get(location_id, -1)
                self._published_hourly[location_id] = max(last, hourly)
        summary.messages += len(payloads)
        summary.samples += samples
        SAMPLES.inc(samples)

    def _heartbeat(self, summary: CycleSummary) -> None:
        status: Status = "ok" if not summary.errors.get("lost_batches") else "degraded"
        try:
            with self.engine.begin() as conn:
                record_heartbeat(
                    conn,
                    SERVICE,
                    status=status,
                    info={
                        "summary": summary.line(),
                        "samples": summary.samples,
                        "calls": summary.calls,
                    },
                )
        except Exception:  # a heartbeat must never stop collection
            logger.warning("collect heartbeat not recorded", exc_info=True)

    # --- the schedule ------------------------------------------------------------------------

    def run(
        self,
        *,
        every_s: float | None,
        max_cycles: int | None = None,
        progress: Progress | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> list[CycleSummary]:
        """Cycles on a steady schedule (start times every_s apart; an overrun skips slots)."""
        wait = sleep or self.stop.wait
        summaries: list[CycleSummary] = []
        next_start = time.monotonic()
        while not self.stop.is_set():
            try:
                summaries.append(self.run_once(progress=progress))
            except UpstreamError as exc:
                logger.warning("collect cycle failed, retrying next cycle: %s", exc)
            if every_s is None or (max_cycles is not None and len(summaries) >= max_cycles):
                break
            next_start += every_s
            now = time.monotonic()
            if now > next_start:
                missed = math.ceil((now - next_start) / every_s)
                logger.warning("collect cycle overran; skipping %d scheduled start(s)", missed)
                next_start += missed * every_s
            wait(max(0.0, next_start - time.monotonic()))
        return summaries


def _batch(
    task: _Task,
    series: LocationSeries,
    kind: Kind,
    fetched_at: datetime,
    published_s: int | None,
) -> WeatherBatch | None:
    """The message for one location: only times after what is already stored or published."""
    if not series.values or not len(series):
        return None
    after = max(task.newest_s if task.newest_s is not None else -1, published_s or -1)
    keep = series.times > after if kind != "history" else np.ones(len(series), dtype=bool)
    if not keep.any():
        return None
    times = series.times[keep]
    values: dict[str, list[float | None]] = {}
    for metric, column in series.values.items():
        kept = column[keep]
        values[metric] = [None if v != v else v for v in kept.tolist()]  # NaN -> None
    if all(v is None for column in values.values() for v in column):
        return None
    return WeatherBatch(
        location_id=task.location.id,
        location=task.location.name,
        kind=kind,
        source=SOURCE,
        fetched_at=fetched_at,
        times=[int(t) for t in times.tolist()],
        values=values,
    )


def _epoch(stamp: datetime | None) -> int:
    """Epoch seconds of a naive UTC timestamp from the database; -1 for none."""
    return int(stamp.replace(tzinfo=UTC).timestamp()) if stamp else -1


def _chunks(tasks: Sequence[_Task], size: int) -> list[Sequence[_Task]]:
    return [tasks[i : i + size] for i in range(0, len(tasks), size)]


def run(
    settings: Settings,
    *,
    engine: Engine,
    bus: StreamBus,
    client: OpenMeteoClient | None = None,
    every_s: float | None = None,
    max_cycles: int | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
) -> list[CycleSummary]:
    """Run the collector once (every_s None) or every `every_s` seconds until `stop`."""
    own_client = client is None
    om_client = client or OpenMeteoClient(settings.openmeteo)
    try:
        collector = Collector(settings, engine=engine, bus=bus, client=om_client, stop=stop)
        return collector.run(every_s=every_s, max_cycles=max_cycles, progress=progress)
    finally:
        if own_client:
            om_client.close()
