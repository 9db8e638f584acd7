"""Rate limits, the per-client concurrency queue and injected faults of the emulator.

Mirrors the free API (OPEN_METEO.md §5-6): weighted minute/hour/day counters per client address
that reset on clock boundaries, a request is admitted when the counters are below the limits
*before* it and its weight is added after it is served; errors cost 1; one request at a time per
client with a short queue, beyond which 429 "Too many concurrent requests".
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

MINUTE_LIMIT_REASON = "Minutely API request limit exceeded. Please try again in one minute."
HOUR_LIMIT_REASON = "Hourly API request limit exceeded. Please try again in the next hour."
DAY_LIMIT_REASON = "Daily API request limit exceeded. Please try again tomorrow."
CONCURRENCY_REASON = "Too many concurrent requests"
OVERLOADED_REASON = "The service is overloaded"
TOO_MUCH_DATA_REASON = (
    "Your API call requests too much data. Please reduce the number of variables, locations "
    "and/or weather models."
)


@dataclass(frozen=True, slots=True)
class RateLimits:
    per_minute: float = 600.0
    per_hour: float = 5000.0
    per_day: float = 10000.0
    queue: int = 5  # requests allowed to wait behind the one being served


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """Shares (0..1) of requests answered with a fault instead of data."""

    share_429: float = 0.0
    share_503: float = 0.0
    share_slow: float = 0.0
    slow_s: float = 2.0
    share_reset: float = 0.0
    share_malformed: float = 0.0
    share_bad_location: float = 0.0  # per location: missing variable, short array, bad value

    def any(self) -> bool:
        return any(
            s > 0
            for s in (
                self.share_429,
                self.share_503,
                self.share_slow,
                self.share_reset,
                self.share_malformed,
                self.share_bad_location,
            )
        )


@dataclass(slots=True)
class _Usage:
    minute: tuple[int, float] = (0, 0.0)
    hour: tuple[int, float] = (0, 0.0)
    day: tuple[int, float] = (0, 0.0)


class RateLimiter:
    """Weighted counters per client; a clock is passed in so tests can move time."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self._limits = limits
        self._clock = clock
        self._usage: dict[str, _Usage] = {}

    def _current(self, client: str) -> tuple[float, float, float]:
        now = self._clock()
        usage = self._usage.get(client)
        if usage is None:
            return 0.0, 0.0, 0.0
        return (
            _live(usage.minute, int(now // 60)),
            _live(usage.hour, int(now // 3600)),
            _live(usage.day, int(now // 86400)),
        )

    def check(self, client: str) -> str | None:
        """The 429 reason if the client is over a limit now, else None."""
        minute, hour, day = self._current(client)
        if day >= self._limits.per_day:
            return DAY_LIMIT_REASON
        if hour >= self._limits.per_hour:
            return HOUR_LIMIT_REASON
        if minute >= self._limits.per_minute:
            return MINUTE_LIMIT_REASON
        return None

    def add(self, client: str, weight: float) -> None:
        now = self._clock()
        minute, hour, day = self._current(client)
        self._usage[client] = _Usage(
            (int(now // 60), minute + weight),
            (int(now // 3600), hour + weight),
            (int(now // 86400), day + weight),
        )

    def usage(self, client: str) -> dict[str, float]:
        minute, hour, day = self._current(client)
        return {"minute": minute, "hour": hour, "day": day}

    def clients(self) -> list[str]:
        return sorted(self._usage)


def _live(entry: tuple[int, float], period: int) -> float:
    return entry[1] if entry[0] == period else 0.0


class TooManyConcurrent(Exception):
    """The client's queue is full."""


@dataclass
class ConcurrencyGate:
    """One request at a time per client; at most `queue` more wait their turn."""

    queue: int
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _waiting: dict[str, int] = field(default_factory=dict)

    @asynccontextmanager
    async def slot(self, client: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(client, asyncio.Lock())
        if lock.locked() and self._waiting.get(client, 0) >= self.queue:
            raise TooManyConcurrent(client)
        self._waiting[client] = self._waiting.get(client, 0) + 1
        try:
            async with lock:
                self._waiting[client] -= 1
                yield
        finally:
            if not lock.locked() and self._waiting.get(client) == 0:
                self._waiting.pop(client, None)


class FaultDice:
    """Seeded draws deciding which requests and locations get a fault."""

    def __init__(self, faults: FaultSettings, seed: int) -> None:
        self.faults = faults
        self._rng = random.Random(seed)

    def request_fault(self) -> str | None:
        """None, "429", "503", "reset", "malformed" or "slow" for the next request."""
        f = self.faults
        roll = self._rng.random()
        for name, share in (
            ("429", f.share_429),
            ("503", f.share_503),
            ("reset", f.share_reset),
            ("malformed", f.share_malformed),
            ("slow", f.share_slow),
        ):
            if roll < share:
                return name
            roll -= share
        return None

    def bad_locations(self, n: int) -> list[tuple[int, str]]:
        """(location index, corruption kind) for the locations of one response."""
        share = self.faults.share_bad_location
        if share <= 0:
            return []
        kinds = ("missing_variable", "short_array", "bad_value", "not_an_object")
        return [
            (i, kinds[self._rng.randrange(len(kinds))])
            for i in range(n)
            if self._rng.random() < share
        ]
