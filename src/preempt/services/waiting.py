"""How a service waits on a dependency that failed: back off exponentially and retry until it
answers, giving up only when the service is asked to stop (then `Stopped` unwinds the loop)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from preempt.errors import UpstreamError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Stopped(Exception):
    """The stop flag was set while waiting."""


def backoff_s(attempt: int, *, max_s: float = 30.0) -> float:
    """0.25 s, 0.5 s, 1 s, ... capped at max_s (attempt counts from 1)."""
    return float(min(max_s, 0.25 * 2 ** min(attempt - 1, 10)))


def sleep_or_stop(stop: threading.Event, seconds: float) -> None:
    """Sleep, or raise Stopped as soon as `stop` is set."""
    if stop.wait(seconds):
        raise Stopped


def retry_upstream(
    what: str,
    call: Callable[[], T],
    *,
    stop: threading.Event,
    max_s: float = 30.0,
    on_failure: Callable[[], None] | None = None,
) -> T:
    """`call()` until it stops raising UpstreamError; Stopped if asked to stop meanwhile."""
    attempt = 0
    while True:
        try:
            return call()
        except UpstreamError as exc:
            attempt += 1
            if on_failure:
                on_failure()
            delay = backoff_s(attempt, max_s=max_s)
            logger.warning("%s failed (attempt %d), retrying in %.1fs: %s",
                           what, attempt, delay, exc)
            sleep_or_stop(stop, delay)
