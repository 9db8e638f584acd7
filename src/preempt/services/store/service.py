"""Store, the loop: read → parse → write → dead-letter → ack, with waiting and bookkeeping."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, TypeVar

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)

from preempt.config import StoreSettings
from preempt.errors import UpstreamError
from preempt.services.store.parse import Parsed, parse_entries
from preempt.services.waiting import Stopped, backoff_s, retry_upstream, sleep_or_stop
from preempt.storage.heartbeats import Status, record_heartbeat
from preempt.storage.metrics import SampleColumns, write_columns
from preempt.streams import Entry, StreamBus, consumer_name, names

logger = logging.getLogger(__name__)

SERVICE = "store"
TRIM_EVERY_S = 5.0
INFO_EVERY_S = 5.0
_FIRST_READ_COUNT = 16  # until the average entry size is known

ROWS = Counter("preempt_store_rows_total", "Samples written to the metrics table")
ENTRIES = Counter("preempt_store_entries_total", "Stream entries processed (incl. dead letters)")
ROWS_PER_S = Gauge("preempt_store_rows_per_second", "Samples written per second (last window)")
BATCH_SECONDS = Histogram(
    "preempt_store_batch_seconds", "Read-to-ack time of one batch",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
LAG = Gauge("preempt_store_lag_entries", "Entries of the stream not yet delivered to the group")
PENDING = Gauge("preempt_store_pending_entries", "Entries delivered but not yet acknowledged")
DEAD_LETTERS = Counter("preempt_store_dead_letters_total", "Entries sent to the dead-letter stream")
DB_RETRIES = Counter("preempt_store_db_retries_total", "Batch writes retried after a DB failure")
REDIS_ERRORS = Counter("preempt_store_redis_errors_total", "Failed Redis calls (retried)")


@dataclass
class StoreStats:
    """Totals of one run (and of the current summary window)."""

    batches: int = 0
    entries: int = 0
    rows: int = 0
    dead_letters: int = 0
    claimed: int = 0
    db_retries: int = 0
    started_at: float = field(default_factory=time.monotonic)
    lag: int | None = None
    pending: int | None = None

    def line(self, elapsed_s: float) -> str:
        rate = self.rows / elapsed_s if elapsed_s > 0 else 0.0
        lag = "?" if self.lag is None else f"{self.lag:,}"
        pending = "?" if self.pending is None else f"{self.pending:,}"
        return (f"stored {self.rows:,} rows from {self.entries:,} entries in {self.batches:,} "
                f"batches, {elapsed_s:.1f}s ({rate:,.0f} rows/s); lag {lag}, pending {pending}, "
                f"dead letters {self.dead_letters:,}, claimed {self.claimed:,}, "
                f"db retries {self.db_retries:,}")


T = TypeVar("T")
# stored: a batch went through; idle: nothing to read; retry: Redis failed, backed off.
Outcome = Literal["stored", "idle", "retry", "stopped"]


class StoreService:
    """One member of the store consumer group; drive it with `run()` or `run_once()`."""

    def __init__(
        self,
        settings: StoreSettings,
        *,
        bus: StreamBus,
        engine: Engine,
        stop: threading.Event | None = None,
        stream: str = names.WEATHER_METRICS,
        consumer: str | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.engine = engine
        self.stop = stop or threading.Event()
        self.stream = stream
        self.group = settings.group
        self.consumer = consumer or consumer_name()
        self.totals = StoreStats()
        self._window = StoreStats()
        self._rows_per_entry = 0.0
        self._next_claim = 0.0
        self._next_trim = 0.0
        self._next_info = 0.0
        self._next_summary = time.monotonic() + settings.summary_every_s
        self._next_heartbeat = 0.0
        self._read_failures = 0
        self._started = False

    # --- loop ------------------------------------------------------------------------------

    def run(self, *, max_batches: int | None = None, until_idle: bool = False) -> StoreStats:
        """`while not stop: run_once()`; bounded by max_batches or the first idle read."""
        status: Status = "stopped"
        try:
            self.start()
            while not self.stop.is_set():
                outcome = self.run_once()
                if until_idle and outcome == "idle":
                    break
                if max_batches is not None and self.totals.batches >= max_batches:
                    break
        except Stopped:
            pass
        except BaseException:
            status = "error"  # no policy for it: logged by the caller, the supervisor restarts
            raise
        finally:
            self._update_info(force=True)
            elapsed = time.monotonic() - self.totals.started_at
            logger.info("store %s stopping: %s", self.consumer, self.totals.line(elapsed))
            self._heartbeat(status, force=True)
        return self.totals

    def start(self) -> None:
        """Create the group if needed (waits for Redis); idempotent."""
        if not self._started:
            self._retry("create group", lambda: self.bus.ensure_group(self.stream, self.group))
            self._started = True
            logger.info("store %s consuming %s as group %s", self.consumer,
                        names.key(self.bus.prefix, self.stream), self.group)

    def run_once(self) -> Outcome:
        """One batch: read → parse → write → dead-letter → ack; then housekeeping."""
        try:
            self.start()
            started = time.perf_counter()
            entries = self._read()
            if entries is None:
                return "retry"
            if not entries:
                self._housekeeping()
                return "idle"
            parsed = parse_entries(entries, max_deliveries=self.settings.max_deliveries)
            written, rejected = self._write(parsed)
            poison = parsed.poison + rejected
            self._dead_letter(poison)
            self._ack(entries)
            self._count(entries, written, len(poison), time.perf_counter() - started)
            self._housekeeping()
        except Stopped:
            return "stopped"
        return "stored"

    # --- pipeline steps --------------------------------------------------------------------

    def _read(self) -> list[Entry] | None:
        """Stale entries of dead consumers first, else new ones; None after a Redis failure."""
        count = self._read_count()
        try:
            if time.monotonic() >= self._next_claim:
                self._next_claim = time.monotonic() + max(self.settings.claim_idle_s / 4, 0.5)
                claimed = self.bus.claim_stale(self.stream, self.group, self.consumer,
                                               min_idle_s=self.settings.claim_idle_s,
                                               count=count)
                if claimed:
                    logger.warning("claimed %d stale entries (%s..%s) from dead consumers",
                                   len(claimed), claimed[0].id, claimed[-1].id)
                    self.totals.claimed += len(claimed)
                    self._window.claimed += len(claimed)
                    self._read_failures = 0
                    return claimed
            entries = self.bus.read_group(self.stream, self.group, self.consumer, count=count,
                                          block_s=self.settings.block_s)
            self._read_failures = 0
            return entries
        except UpstreamError as exc:
            REDIS_ERRORS.inc()
            self._read_failures += 1
            delay = self._backoff_s(self._read_failures)
            logger.warning("read from %s failed (attempt %d), retrying in %.1fs: %s",
                           self.stream, self._read_failures, delay, exc)
            self._sleep(delay)
            return None

    def _read_count(self) -> int:
        if self._rows_per_entry <= 0:
            return min(self.settings.batch_size, _FIRST_READ_COUNT)
        wanted = int(self.settings.batch_rows / self._rows_per_entry)
        return max(1, min(self.settings.batch_size, wanted))

    def _write(self, parsed: Parsed) -> tuple[int, list[tuple[Entry, str]]]:
        """Upsert the batch in one transaction, retried through database outages (nothing is
        acknowledged meanwhile). Returns rows written and the entries the database itself
        rejects (data or constraint errors): the batch is then written entry by entry, so
        one bad entry is dead-lettered instead of holding back the others forever."""
        if not parsed.columns:
            return 0, []
        try:
            return self._commit(parsed.columns), []
        except (DataError, IntegrityError) as exc:
            logger.error("the database rejected a batch of %d entries (%s); writing them one "
                         "by one", len(parsed.sources), _db_reason(exc))
        written = 0
        rejected: list[tuple[Entry, str]] = []
        for entry, columns in zip(parsed.sources, parsed.columns, strict=True):
            try:
                written += self._commit([columns])
            except (DataError, IntegrityError) as exc:
                rejected.append((entry, f"rejected by the database: {_db_reason(exc)}"))
        return written, rejected

    def _commit(self, columns: list[SampleColumns]) -> int:
        attempt = 0
        while True:
            try:
                with self.engine.begin() as conn:
                    return write_columns(conn, columns)
            except (OperationalError, InterfaceError) as exc:
                reason = _db_reason(exc)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                reason = "connection lost"
            attempt += 1
            DB_RETRIES.inc()
            self.totals.db_retries += 1
            self._window.db_retries += 1
            delay = self._backoff_s(attempt)
            logger.warning("writing %d series failed (attempt %d), retrying in %.1fs: %s",
                           len(columns), attempt, delay, reason)
            self._sleep(delay)

    def _dead_letter(self, poison: Sequence[tuple[Entry, str]]) -> None:
        for entry, reason in poison:
            logger.error("dead-lettered entry %s of %s: %s", entry.id, self.stream, reason)
            self._retry("dead-letter", partial(self.bus.dead_letter, self.stream, entry, reason))
        DEAD_LETTERS.inc(len(poison))

    def _ack(self, entries: Sequence[Entry]) -> None:
        ids = [e.id for e in entries]
        self._retry("ack", lambda: self.bus.ack(self.stream, self.group, ids))

    # --- bookkeeping -----------------------------------------------------------------------

    def _count(self, entries: Sequence[Entry], rows: int, dead: int, elapsed_s: float) -> None:
        for stats in (self.totals, self._window):
            stats.batches += 1
            stats.entries += len(entries)
            stats.rows += rows
            stats.dead_letters += dead
        ROWS.inc(rows)
        ENTRIES.inc(len(entries))
        BATCH_SECONDS.observe(elapsed_s)
        per_entry = rows / len(entries)
        self._rows_per_entry = (per_entry if self._rows_per_entry <= 0
                                else 0.7 * self._rows_per_entry + 0.3 * per_entry)
        logger.debug("batch of %d entries (%s..%s): %d rows in %.3fs", len(entries),
                     entries[0].id, entries[-1].id, rows, elapsed_s)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now >= self._next_trim:
            self._next_trim = now + TRIM_EVERY_S
            try:
                self.bus.trim(self.stream)
            except UpstreamError as exc:
                REDIS_ERRORS.inc()
                logger.warning("trim of %s failed: %s", self.stream, exc)
        self._update_info()
        if now >= self._next_summary:
            elapsed = now - self._window.started_at
            ROWS_PER_S.set(self._window.rows / elapsed if elapsed > 0 else 0.0)
            logger.info("store %s: %s", self.consumer, self._window.line(elapsed))
            self._window = StoreStats(lag=self.totals.lag, pending=self.totals.pending)
            self._next_summary = now + self.settings.summary_every_s
        self._heartbeat("ok")

    def _update_info(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_info:
            return
        self._next_info = now + INFO_EVERY_S
        try:
            info = self.bus.group_info(self.stream, self.group)
        except UpstreamError:
            REDIS_ERRORS.inc()
            return
        if info is None:
            return
        self.totals.lag = self._window.lag = info.lag
        self.totals.pending = self._window.pending = info.pending
        if info.lag is not None:
            LAG.set(info.lag)
        PENDING.set(info.pending)

    def _heartbeat(self, status: Status, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_heartbeat:
            return
        self._next_heartbeat = now + self.settings.heartbeat_every_s
        info = {"consumer": self.consumer, "rows": self.totals.rows,
                "entries": self.totals.entries, "dead_letters": self.totals.dead_letters,
                "lag": self.totals.lag, "pending": self.totals.pending}
        try:
            with self.engine.begin() as conn:
                record_heartbeat(conn, SERVICE, status=status, info=info)
        except (OperationalError, InterfaceError, DBAPIError) as exc:
            logger.warning("heartbeat not recorded: %s", str(exc).splitlines()[0])

    # --- waiting ---------------------------------------------------------------------------

    def _retry(self, what: str, call: Callable[[], T]) -> T:
        """Call until Redis answers; raise Stopped if asked to stop meanwhile."""
        return retry_upstream(f"{what} on {self.stream}", call, stop=self.stop,
                              max_s=self.settings.retry_max_s, on_failure=REDIS_ERRORS.inc)

    def _backoff_s(self, attempt: int) -> float:
        return backoff_s(attempt, max_s=self.settings.retry_max_s)

    def _sleep(self, seconds: float) -> None:
        sleep_or_stop(self.stop, seconds)


def _db_reason(exc: DBAPIError) -> str:
    return str(exc.orig).splitlines()[0] if exc.orig else str(exc).splitlines()[0]
