"""Delivery: a worker thread that claims due outbox rows, sends them (webhook, Alertmanager,
Slack, email) with retry and backoff, records every attempt, and reports channel health as
heartbeat rows of service "alarm-channel" (which /health lists)."""

from __future__ import annotations

import logging
import queue
import smtplib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, TypeVar

import httpx
from prometheus_client import Counter
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from preempt.alarms.payloads import AlarmEvent, dashboard_link, email_message, http_payload
from preempt.config import AlarmChannelSettings, AlarmSettings
from preempt.services.alarms.evaluation import utcnow
from preempt.storage import alarms as store
from preempt.storage.heartbeats import Status, instance_name, record_heartbeat

logger = logging.getLogger(__name__)

CHANNEL_SERVICE = "alarm-channel"  # one heartbeat row per channel: /health shows its health
CLAIM_BATCH = 200
SEND_THREADS = 8
MAX_INFLIGHT = SEND_THREADS * 4

DELIVERIES = Counter("preempt_alarm_deliveries_total", "Notification attempts",
                     ["channel", "outcome"])


class DeliveryError(Exception):
    """A notification attempt failed; the message is the recorded reason. `final`: retrying
    cannot help (unknown channel, deleted rule)."""

    def __init__(self, reason: str, *, final: bool = False) -> None:
        super().__init__(reason)
        self.final = final


def backoff_s(settings: AlarmSettings, attempt: int) -> float:
    """Wait before attempt `attempt + 1`: base * 2**(attempt-1), capped."""
    retry = settings.retry
    return float(min(retry.backoff_max_s, retry.backoff_base_s * 2 ** min(attempt - 1, 30)))


def build_event(ctx: store.EventContext, settings: AlarmSettings) -> AlarmEvent:
    h, rule = ctx.history, ctx.rule
    if rule is None:
        raise DeliveryError(f"alarm rule {h.rule_id} was deleted before delivery", final=True)
    return AlarmEvent(
        transition_id=h.id, rule_id=rule.id, rule_name=rule.name, location_id=rule.location_id,
        location=rule.location, metric_type=rule.metric_type, operator=rule.operator,
        threshold=h.threshold, severity=rule.severity, from_state=h.from_state,
        to_state=h.to_state, at=h.at, value=h.value, started_at=ctx.started_at,
        for_s=float(rule.for_s), suggestion_id=rule.suggestion_id,
        dashboard_url=dashboard_link(settings.dashboard_url, location=rule.location,
                                     metric_type=rule.metric_type, rule_id=rule.id),
    )


def send(channel: AlarmChannelSettings, event: AlarmEvent, *, client: httpx.Client,
         timeout_s: float) -> None:
    """Deliver one event on one channel; raises DeliveryError with the reason."""
    if channel.kind == "email":
        _send_email(channel, event, timeout_s=timeout_s)
        return
    assert channel.url is not None
    body = http_payload(channel.kind, event, receiver=channel.name)
    headers = {"X-Preempt-Transition": str(event.transition_id), **channel.headers}
    try:
        response = client.post(channel.url, json=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:500]) from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"HTTP {response.status_code}: {response.text[:300]}")


def _send_email(channel: AlarmChannelSettings, event: AlarmEvent, *, timeout_s: float) -> None:
    subject, text = email_message(event)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = channel.email_from
    message["To"] = ", ".join(channel.email_to)
    message["X-Preempt-Transition"] = str(event.transition_id)
    message.set_content(text)
    smtp_class = smtplib.SMTP_SSL if channel.smtp_ssl else smtplib.SMTP
    try:
        with smtp_class(channel.smtp_host, channel.smtp_port, timeout=timeout_s) as smtp:
            if channel.smtp_starttls:
                smtp.starttls()
            if channel.smtp_username:
                password = channel.smtp_password.get_secret_value() \
                    if channel.smtp_password else ""
                smtp.login(channel.smtp_username, password)
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {type(exc).__name__}: {exc}"[:500]) from exc


_RETRYABLE_DB_ERRORS = (1205, 1213)  # lock wait timeout, deadlock (MySQL/MariaDB)
T = TypeVar("T")


def with_db_retry(call: Callable[[], T], *, attempts: int = 5) -> T:
    """Run a transaction, again on a deadlock or lock timeout (the whole transaction is
    rolled back by the server, so re-running it is safe)."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except OperationalError as exc:
            code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
            if code not in _RETRYABLE_DB_ERRORS or attempt == attempts:
                raise
            time.sleep(0.01 * 2 ** attempt)
    raise AssertionError("unreachable")


@dataclass
class ChannelHealth:
    consecutive_failures: int = 0
    last_error: str | None = None
    last_sent_at: datetime | None = None
    sent: int = 0
    failed: int = 0
    reported: tuple[str, float] | None = None  # (status, monotonic time) last written


@dataclass(frozen=True, slots=True)
class _Attempt:
    delivery: store.DeliveryRecord
    error: str | None
    final: bool
    at: datetime


class DeliveryWorker:
    """Sends queued notifications: claims due outbox rows, sends them in a thread pool, and
    records sent / retry later / failed (with the reason) in batches, with channel health.

    Sends do not wait for each other: one hanging receiver (up to retry.timeout_s) holds up
    only its own deliveries. Results are written in one transaction per round."""

    def __init__(
        self,
        settings: AlarmSettings,
        *,
        engine: Engine,
        stop: threading.Event | None = None,
        wake: threading.Event | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.stop = stop or threading.Event()
        self.wake = wake or threading.Event()
        self.now = now
        self.name = f"{instance_name()}:deliver"
        self.channels = {c.name: c for c in settings.channels}
        self.health: dict[str, ChannelHealth] = {c: ChannelHealth() for c in self.channels}
        self._client = httpx.Client(timeout=settings.retry.timeout_s)
        self._pool = ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="alarm-send")
        self._lock = threading.Lock()
        self._inflight = 0
        self._results: queue.SimpleQueue[_Attempt] = queue.SimpleQueue()
        self._closed = False

    def close(self) -> None:
        """Wait for sends in flight, record them, release the HTTP client and threads."""
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=True)
        try:
            self.flush()
        finally:
            self._client.close()

    def run(self) -> None:
        """Deliver until stopped; sleeps up to worker_poll_s when there is nothing to do."""
        try:
            while not self.stop.is_set():
                try:
                    busy = self.flush() + len(self.dispatch())
                except OperationalError as exc:
                    logger.warning("deliveries: database unavailable, retrying: %s",
                                   str(exc.orig).splitlines()[0])
                    self.stop.wait(1.0)
                    continue
                if busy == 0:
                    self.wake.wait(self.settings.worker_poll_s)
                    self.wake.clear()
        finally:
            self.close()

    def deliver_due(self) -> int:
        """Burst mode: claim what is due, send it, wait, record; returns how many."""
        futures = self.dispatch()
        for future in futures:
            future.result()
        self.flush()
        return len(futures)

    def dispatch(self) -> list[Future[None]]:
        """Claim due deliveries (as many as free send slots) and hand them to the pool."""
        with self._lock:
            free = MAX_INFLIGHT - self._inflight
        if free <= 0:
            return []
        now = self.now()

        def claim() -> list[store.DeliveryRecord]:
            with self.engine.begin() as conn:
                store.requeue_stale(conn, now=now, timeout_s=self.settings.claim_timeout_s)
                return store.claim_due(conn, now=now, worker=self.name,
                                       limit=min(CLAIM_BATCH, free))

        claimed = with_db_retry(claim)
        if not claimed:
            return []
        with self.engine.connect() as conn:
            contexts = store.event_contexts(conn, [d.history_id for d in claimed])
        with self._lock:
            self._inflight += len(claimed)
        return [self._pool.submit(self._send_one, d, contexts.get(d.history_id))
                for d in claimed]

    def _send_one(self, delivery: store.DeliveryRecord, ctx: store.EventContext | None) -> None:
        error, final = None, False
        try:
            channel = self.channels.get(delivery.channel)
            if channel is None:
                raise DeliveryError(f"channel {delivery.channel!r} is not configured",
                                    final=True)
            if ctx is None:
                raise DeliveryError(f"transition {delivery.history_id} no longer exists",
                                    final=True)
            send(channel, build_event(ctx, self.settings), client=self._client,
                 timeout_s=self.settings.retry.timeout_s)
        except DeliveryError as exc:
            error, final = str(exc), exc.final
        except Exception as exc:  # a bug must not lose the delivery: retried like a failure
            logger.exception("delivery %d to %s: unexpected error", delivery.id,
                             delivery.channel)
            error = f"unexpected {type(exc).__name__}: {exc}"[:500]
        finally:
            self._results.put(_Attempt(delivery, error, final, self.now()))
            with self._lock:
                self._inflight -= 1
            self.wake.set()

    def flush(self) -> int:
        """Record every finished attempt (and channel health) in one transaction."""
        attempts: list[_Attempt] = []
        while True:
            try:
                attempts.append(self._results.get_nowait())
            except queue.Empty:
                break
        if not attempts:
            return 0
        outcomes = [self._outcome(a) for a in attempts]
        beats = self._health_updates(attempts)

        def write() -> None:
            with self.engine.begin() as conn:
                store.finish_deliveries(conn, outcomes)
                for channel, status, info, at in beats:
                    record_heartbeat(conn, CHANNEL_SERVICE, status=status, info=info,
                                     instance=channel, now=at.replace(tzinfo=UTC))

        with_db_retry(write)
        return len(attempts)

    def _outcome(self, a: _Attempt) -> store.Outcome:
        d, attempt = a.delivery, a.delivery.attempts + 1
        if a.error is None:
            DELIVERIES.labels(d.channel, "sent").inc()
            logger.debug("delivery %d (transition %d) sent to %s", d.id, d.history_id,
                         d.channel)
            return store.Outcome(d.id, "sent", attempt, a.at, a.at)
        give_up = a.final or attempt >= self.settings.retry.max_attempts
        DELIVERIES.labels(d.channel, "failed" if give_up else "retry").inc()
        if give_up:
            logger.error("delivery %d (transition %d) to %s failed after %d attempt(s): %s",
                         d.id, d.history_id, d.channel, attempt, a.error)
            return store.Outcome(d.id, "failed", attempt, a.at, a.at, a.error)
        retry_at = a.at + timedelta(seconds=backoff_s(self.settings, attempt))
        logger.warning("delivery %d (transition %d) to %s failed (attempt %d), retry at %s: "
                       "%s", d.id, d.history_id, d.channel, attempt, retry_at, a.error)
        return store.Outcome(d.id, "pending", attempt, a.at, retry_at, a.error)

    def _health_updates(
        self, attempts: Sequence[_Attempt]
    ) -> list[tuple[str, Status, dict[str, Any], datetime]]:
        """Fold attempts into channel health; the heartbeat rows due (on a change of status,
        else at most every 5 s per channel)."""
        due: dict[str, tuple[str, Status, dict[str, Any], datetime]] = {}
        limit = self.settings.unhealthy_after_failures
        for a in attempts:
            name = a.delivery.channel
            if name not in self.channels:
                continue
            health = self.health.setdefault(name, ChannelHealth())
            was_failing = health.consecutive_failures >= limit
            if a.error is None:
                health.consecutive_failures, health.sent = 0, health.sent + 1
                health.last_sent_at = a.at
            else:
                health.consecutive_failures += 1
                health.failed += 1
                health.last_error = a.error
            failing = health.consecutive_failures >= limit
            if failing != was_failing:
                log = logger.error if failing else logger.info
                log("alarm channel %s is %s", name, "unhealthy" if failing else "healthy again")
            status: Status = "error" if failing else "ok"
            last = health.reported
            if last is None or last[0] != status or time.monotonic() - last[1] >= 5.0 \
                    or name in due:
                health.reported = (status, time.monotonic())
                due[name] = (name, status, {
                    "kind": self.channels[name].kind,
                    "consecutive_failures": health.consecutive_failures,
                    "last_error": health.last_error, "last_sent_at": health.last_sent_at,
                    "sent": health.sent, "failed": health.failed}, a.at)
        return list(due.values())
