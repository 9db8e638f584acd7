"""The detect loop: plan cycles under a lock, share their jobs through stream detect_jobs.

Whoever takes the lock `lock:detect` when a cycle is due plans it: it splits the locations into
jobs (batches that never split a model bucket), records the cycle and publishes the jobs. Every
detect process (the planner too) is a member of the consumer group on detect_jobs and judges the
jobs it reads; a job left pending by a dead member is claimed. The planner keeps the lock until
every job of its cycle has its row, then writes the cycle's one-line summary: runs never
overlap, no location is judged twice in a cycle and none is skipped.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from preempt.config import Settings
from preempt.errors import InvalidMessage, UpstreamError
from preempt.services.detect.judge import JobContext, judge_locations
from preempt.services.detect.ml_client import MLClient
from preempt.services.store import consumer_name
from preempt.services.waiting import Stopped, T, retry_upstream, sleep_or_stop
from preempt.storage.detect_state import (
    JobFigures,
    all_location_ids,
    cycle_jobs,
    finish_cycle,
    get_cycle,
    insert_cycle,
    jobs_done,
    last_cycle,
    naive_utc,
    sum_figures,
    unfinished_cycles,
)
from preempt.storage.heartbeats import Status, record_heartbeat
from preempt.streams import Entry, HeldLock, StreamBus, names
from preempt.streams.messages import DetectJob

logger = logging.getLogger(__name__)

SERVICE = "detect"

CYCLES = Counter("preempt_detect_cycles_total", "Detect cycles finished (planned here)")
CYCLE_SECONDS = Histogram("preempt_detect_cycle_seconds", "Duration of a detect cycle",
                          buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1200))
JOB_SECONDS = Histogram("preempt_detect_job_seconds", "Duration of one detect job",
                        buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120))
SAMPLES = Counter("preempt_detect_samples_judged_total", "Samples judged")
ANOMALIES_NEW = Counter("preempt_detect_anomalies_new_total", "Anomalies stored for the 1st time")
SUGGESTIONS = Counter("preempt_detect_suggestions_total", "Suggestions written", ["kind"])
ML_UP = Gauge("preempt_detect_ml_up", "1 when the last job got its ML results, else 0")
LOCATIONS = Counter("preempt_detect_locations_total", "Locations judged")


def new_cycle_id(now: datetime) -> str:
    """Sortable by start time, to the millisecond (two cycles can start within a second)."""
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def plan_batches(location_ids: list[int], *, batch_locations: int,
                 bucket_locations: int) -> list[list[int]]:
    """Consecutive ids in batches of about `batch_locations`, cut only between model buckets."""
    batches: list[list[int]] = []
    current: list[int] = []
    bucket = None
    for loc in sorted(location_ids):
        b = loc // bucket_locations
        if current and b != bucket and len(current) >= batch_locations:
            batches.append(current)
            current = []
        current.append(loc)
        bucket = b
    if current:
        batches.append(current)
    return batches


def summary_line(cycle_id: str, figures: JobFigures, *, jobs: int, workers: int,
                 duration_s: float) -> str:
    ml = {"on": "ML on", "off": "ML off", "partial": "ML partly off",
          "none": "ML not used"}[figures.ml]
    return (f"detect cycle {cycle_id}: {figures.locations:,} locations ({jobs} jobs, {workers} "
            f"worker{'s' if workers != 1 else ''}), {figures.series:,} series, "
            f"{figures.samples:,} samples judged, anomalies {figures.anomalies_new:,} new / "
            f"{figures.anomalies_found:,} found, suggestions {figures.suggestions_new:,} new / "
            f"{figures.suggestions_updated:,} updated, {ml}, {duration_s:.1f}s")


@dataclass
class _Cycle:
    """The cycle this process planned and holds the lock for."""

    cycle_id: str
    jobs: int
    lock: HeldLock
    started: float = field(default_factory=time.monotonic)


@dataclass
class DetectTotals:
    """What this process did: cycles it planned and finished, jobs it judged, their figures."""

    cycles: int = 0
    jobs: int = 0
    figures: list[JobFigures] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        f = sum_figures(self.figures)
        return (f"{self.cycles} cycles planned, {self.jobs} jobs judged: {f.locations:,} "
                f"locations, {f.samples:,} samples, anomalies {f.anomalies_new:,} new, "
                f"suggestions {f.suggestions_new:,} new / {f.suggestions_updated:,} updated")




class DetectService:
    """One detect process: planner when it holds the lock, worker always."""

    def __init__(
        self,
        settings: Settings,
        *,
        bus: StreamBus,
        engine: Engine,
        stop: threading.Event | None = None,
        consumer: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.d = settings.detect
        self.bus = bus
        self.engine = engine
        self.stop = stop or threading.Event()
        self.consumer = consumer or consumer_name()
        self.clock = clock
        # The ML deadline is wall time (the trainer compares it with its own clock).
        self.ml = MLClient(bus, timeout_s=self.d.ml_timeout_s)
        self.totals = DetectTotals()
        self._cycle: _Cycle | None = None
        self._watched: set[str] = set()  # cycles seen (worked on or running) by this process
        self._next_plan = 0.0
        self._next_claim = 0.0
        self._next_heartbeat = 0.0
        self._last_ml = "none"
        self._started = False

    # --- loop ------------------------------------------------------------------------------

    def run(self, *, once: bool = False, max_cycles: int | None = None,
            until_idle: bool = False) -> DetectTotals:
        """`while not stop: run_once()`. once: until one cycle this process planned or worked
        on has finished; max_cycles: cycles planned here; until_idle: no cycle of ours left and
        no job to read."""
        try:
            while not self.stop.is_set():
                busy = self.run_once(
                    force_plan=once and self.totals.cycles == 0 and not self._watched)
                if once and self._saw_a_cycle_finish():
                    break
                if max_cycles is not None and self.totals.cycles >= max_cycles:
                    break
                if until_idle and not busy and self._cycle is None:
                    break
        except Stopped:
            pass
        finally:
            if self._cycle is not None:
                self._release()
            logger.info("detect %s stopping: %s", self.consumer, self.totals.line())
            self._heartbeat("stopped", force=True)
        return self.totals

    def run_once(self, *, force_plan: bool = False) -> bool:
        """Plan if due, judge one job if there is one, finish our cycle if done; True if busy."""
        self._start()
        self._maybe_plan(force=force_plan)
        busy = self._work()
        self._maybe_finish()
        self._heartbeat("degraded" if self._last_ml in ("off", "partial") else "ok")
        return busy

    def _start(self) -> None:
        if not self._started:
            self._retry("create group",
                        lambda: self.bus.ensure_group(names.DETECT_JOBS, self.d.group))
            self._started = True
            logger.info("detect %s: member of group %s on %s", self.consumer, self.d.group,
                        names.key(self.bus.prefix, names.DETECT_JOBS))

    # --- planning --------------------------------------------------------------------------

    def _maybe_plan(self, *, force: bool) -> None:
        if self._cycle is not None:
            if not self._retry("lock refresh", self._cycle.lock.refresh):
                logger.error("lost lock %s during cycle %s", names.DETECT_LOCK,
                             self._cycle.cycle_id)
            return
        now_m = time.monotonic()
        if not force and now_m < self._next_plan:
            return
        self._next_plan = now_m + min(self.d.interval_s, 5.0)
        now_s = self.clock()
        with self.engine.connect() as conn:
            last = last_cycle(conn)
            running = [c.cycle_id for c in unfinished_cycles(conn)]
        self._watched.update(running)
        if not force and last is not None:
            due_in = self.d.interval_s - (now_s - _epoch(last.planned_at))
            if due_in > 0:
                self._next_plan = now_m + min(due_in, self.d.interval_s)
                return
        lock = self._retry("lock", lambda: self.bus.try_lock(names.DETECT_LOCK,
                                                              ttl_s=self.d.lock_ttl_s))
        if lock is None:
            return  # another process is planning or running a cycle
        info = self._retry("group info",
                           lambda: self.bus.group_info(names.DETECT_JOBS, self.d.group))
        if info is not None and (info.pending or info.lag):
            logger.warning("previous detect cycle still has %d pending / %s queued jobs: "
                           "not planning a new one yet", info.pending, info.lag)
            self._retry("unlock", lock.release)
            return
        self._close_stale_cycles()
        self._plan(lock, now_s)

    def _plan(self, lock: HeldLock, now_s: float) -> None:
        now = naive_utc(now_s)
        with self.engine.connect() as conn:
            ids = all_location_ids(conn)
        batches = plan_batches(ids, batch_locations=self.d.batch_locations,
                               bucket_locations=self.settings.ml.bucket_locations)
        cycle_id = new_cycle_id(datetime.now(UTC))
        with self.engine.begin() as conn:
            insert_cycle(conn, cycle_id=cycle_id, planner=self.consumer,
                         jobs=max(len(batches), 1), locations_count=len(ids), planned_at=now)
        self._cycle = _Cycle(cycle_id, max(len(batches), 1), lock)
        self._watched.add(cycle_id)
        if not batches:
            logger.info("detect cycle %s: no locations to judge", cycle_id)
            self._finish(empty=True)
            return
        jobs = [DetectJob(cycle_id=cycle_id, job_no=i, jobs=len(batches), location_ids=b,
                          planned_at=now).encode() for i, b in enumerate(batches)]
        self._retry("publish jobs", lambda: self.bus.add_many(names.DETECT_JOBS, jobs))
        logger.info("detect cycle %s planned: %d locations in %d jobs", cycle_id, len(ids),
                    len(batches))

    def _close_stale_cycles(self) -> None:
        """Cycles whose planner died: summarise them if their jobs are all done, else drop."""
        now = naive_utc(self.clock())
        with self.engine.begin() as conn:
            for cycle in unfinished_cycles(conn):
                done = jobs_done(conn, cycle.cycle_id)
                note = "" if done >= cycle.jobs else f" (abandoned: {done} of {cycle.jobs} jobs)"
                finish_cycle(conn, cycle.cycle_id, now=now,
                             summary=f"detect cycle {cycle.cycle_id}: planner lost{note}")

    # --- working ---------------------------------------------------------------------------

    def _work(self) -> bool:
        entries = self._read()
        for entry in entries:
            self._judge(entry)
        return bool(entries)

    def _read(self) -> list[Entry]:
        try:
            if time.monotonic() >= self._next_claim:
                self._next_claim = time.monotonic() + max(self.d.claim_idle_s / 4, 0.25)
                claimed = self.bus.claim_stale(names.DETECT_JOBS, self.d.group, self.consumer,
                                               min_idle_s=self.d.claim_idle_s, count=1)
                if claimed:
                    logger.warning("claimed detect job %s (delivery %d) from a dead worker",
                                   claimed[0].id, claimed[0].deliveries)
                    return claimed
            return self.bus.read_group(names.DETECT_JOBS, self.d.group, self.consumer, count=1,
                                       block_s=self.d.block_s)
        except UpstreamError as exc:
            logger.warning("read from %s failed, retrying: %s", names.DETECT_JOBS, exc)
            self._sleep(1.0)
            return []

    def _judge(self, entry: Entry) -> None:
        try:
            if entry.deliveries > self.d.max_deliveries:
                raise InvalidMessage(f"gave up after {entry.deliveries} deliveries")
            job = DetectJob.decode(entry.payload)
        except InvalidMessage as exc:
            reason = str(exc)
            logger.error("dead-lettered detect job %s: %s", entry.id, reason)
            self._retry("dead-letter", lambda: self.bus.dead_letter(
                names.DETECT_JOBS, entry, reason, group=self.d.group))
            return
        self._watched.add(job.cycle_id)
        ctx = JobContext(settings=self.settings, engine=self.engine, ml=self.ml,
                         cycle_id=job.cycle_id, job_no=job.job_no, worker=self.consumer,
                         now_s=self.clock(), should_stop=self.stop.is_set)
        try:
            figures = judge_locations(job.location_ids, ctx)
        except (OperationalError, InterfaceError) as exc:
            # Not acknowledged: the job is claimed again (by us or another worker) once it has
            # been pending for claim_idle_s; the database may be back by then.
            reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
            logger.warning("detect job %d of cycle %s failed on the database, left for a "
                           "retry: %s", job.job_no, job.cycle_id, reason)
            self._sleep(min(self.d.claim_idle_s, 10.0))
            return
        self._retry("ack", lambda: self.bus.ack(names.DETECT_JOBS, self.d.group, [entry.id]))
        self.totals.jobs += 1
        self.totals.figures.append(figures)
        self._count(figures)
        logger.info("detect job %d/%d of cycle %s: %d locations, %d samples judged, anomalies "
                    "%d new / %d found, suggestions %d new / %d updated, ML %s, %.1fs",
                    job.job_no + 1, job.jobs, job.cycle_id, figures.locations, figures.samples,
                    figures.anomalies_new, figures.anomalies_found, figures.suggestions_new,
                    figures.suggestions_updated, figures.ml, figures.duration_s)

    def _count(self, f: JobFigures) -> None:
        JOB_SECONDS.observe(f.duration_s)
        SAMPLES.inc(f.samples)
        LOCATIONS.inc(f.locations)
        ANOMALIES_NEW.inc(f.anomalies_new)
        SUGGESTIONS.labels("new").inc(f.suggestions_new)
        SUGGESTIONS.labels("updated").inc(f.suggestions_updated)
        if f.ml != "none":
            self._last_ml = f.ml
            ML_UP.set(1 if f.ml == "on" else 0)

    # --- finishing -------------------------------------------------------------------------

    def _maybe_finish(self) -> None:
        if self._cycle is None:
            return
        with self.engine.connect() as conn:
            done = jobs_done(conn, self._cycle.cycle_id)
        if done >= self._cycle.jobs:
            self._finish()

    def _finish(self, *, empty: bool = False) -> None:
        cycle = self._cycle
        assert cycle is not None
        duration = time.monotonic() - cycle.started
        with self.engine.begin() as conn:
            jobs = [] if empty else cycle_jobs(conn, cycle.cycle_id)
            figures = sum_figures(j.figures for j in jobs)
            line = summary_line(cycle.cycle_id, figures, jobs=len(jobs),
                                workers=len({j.worker for j in jobs}), duration_s=duration)
            finish_cycle(conn, cycle.cycle_id, summary=line, now=naive_utc(self.clock()))
        logger.info("%s", line)
        self.totals.cycles += 1
        self.totals.summaries.append(line)
        CYCLES.inc()
        CYCLE_SECONDS.observe(duration)
        self._release()

    def _release(self) -> None:
        cycle, self._cycle = self._cycle, None
        if cycle is not None:
            try:
                cycle.lock.release()
            except UpstreamError as exc:
                logger.warning("could not release %s (it expires by itself): %s",
                               names.DETECT_LOCK, exc)

    def _saw_a_cycle_finish(self) -> bool:
        if self.totals.cycles:
            return True
        if self._cycle is not None or not self._watched:
            return False
        with self.engine.connect() as conn:
            return any((c := get_cycle(conn, w)) is not None and c.finished_at is not None
                       for w in self._watched)

    # --- plumbing --------------------------------------------------------------------------

    def _heartbeat(self, status: Status, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_heartbeat:
            return
        self._next_heartbeat = now + self.d.heartbeat_every_s
        info = {"consumer": self.consumer, "cycles": self.totals.cycles,
                "jobs": self.totals.jobs, "ml": self._last_ml,
                "last_summary": self.totals.summaries[-1] if self.totals.summaries else None}
        try:
            with self.engine.begin() as conn:
                record_heartbeat(conn, SERVICE, status=status, info=info)
        except DBAPIError as exc:
            logger.warning("heartbeat not recorded: %s", str(exc).splitlines()[0])

    def _retry(self, what: str, call: Callable[[], T]) -> T:
        return retry_upstream(what, call, stop=self.stop)

    def _sleep(self, seconds: float) -> None:
        sleep_or_stop(self.stop, seconds)


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


def run(
    settings: Settings,
    *,
    bus: StreamBus,
    engine: Engine,
    stop: threading.Event | None = None,
    once: bool = False,
    max_cycles: int | None = None,
    until_idle: bool = False,
    consumer: str | None = None,
    clock: Callable[[], float] = time.time,
) -> DetectTotals:
    """Run one detect process until `stop` is set (or the bound is reached)."""
    service = DetectService(settings, bus=bus, engine=engine, stop=stop, consumer=consumer,
                            clock=clock)
    return service.run(once=once, max_cycles=max_cycles, until_idle=until_idle)
