"""The stream bus interface every service codes against, and the value types it returns.

Two implementations: `RedisBus` (redis_bus.py, distributed) and `MemoryBus` (memory_bus.py, the
in-process twin of `preempt up`). Both take logical names (`names.WEATHER_METRICS`) and apply
the deployment prefix themselves.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, runtime_checkable

StreamId = tuple[int, int]


def consumer_name() -> str:
    """A consumer name unique per process and readable in XINFO CONSUMERS: host-pid-random."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def parse_id(entry_id: str) -> StreamId:
    """'1700000000000-3' -> (1700000000000, 3); a bare '5' means (5, 0)."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def format_id(entry_id: StreamId) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"


def next_id(entry_id: StreamId) -> StreamId:
    """The smallest id greater than `entry_id`."""
    ms, seq = entry_id
    if seq >= 2**64 - 1:
        return ms + 1, 0
    return ms, seq + 1


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry: its id, the payload bytes and optional string headers.

    `deliveries` is how many times the entry has been handed to a consumer of the group it was
    read for (1 on a first read, more after claims); 0 for plain reads outside any group.
    """

    id: str
    payload: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    deliveries: int = 1


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """An entry delivered to a consumer of a group but not acknowledged yet."""

    id: str
    consumer: str
    idle_s: float
    deliveries: int


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """State of one consumer group: `lag` = entries not yet delivered to any of its consumers
    (None when the server cannot tell), `pending` = delivered but not acknowledged."""

    name: str
    consumers: int
    pending: int
    last_delivered_id: str
    lag: int | None


@runtime_checkable
class HeldLock(Protocol):
    """A lock this process holds until `release()` or until its TTL runs out."""

    name: str

    def refresh(self, ttl_s: float | None = None) -> bool:
        """Extend the TTL (default: the original one); False if the lock was lost."""
        ...

    def release(self) -> bool:
        """Give the lock up; False if it had already expired (someone else may hold it)."""
        ...

    def __enter__(self) -> HeldLock: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class StreamBus(Protocol):
    """Streams with consumer groups, dead letters, safe trimming and locks (see package doc)."""

    prefix: str

    def add(
        self,
        stream: str,
        payload: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        maxlen: int | None = None,
    ) -> str: ...

    def add_many(
        self,
        stream: str,
        payloads: Sequence[bytes],
        *,
        headers: Sequence[Mapping[str, str]] | None = None,
        maxlen: int | None = None,
    ) -> list[str]: ...

    def trim(self, stream: str) -> int: ...

    def ensure_group(self, stream: str, group: str, *, start_id: str = "0") -> None: ...

    def read_group(
        self, stream: str, group: str, consumer: str, *, count: int, block_s: float
    ) -> list[Entry]: ...

    def ack(self, stream: str, group: str, ids: Sequence[str]) -> int: ...

    def claim_stale(
        self, stream: str, group: str, consumer: str, *, min_idle_s: float, count: int
    ) -> list[Entry]: ...

    def dead_letter(
        self, stream: str, entry: Entry, reason: str, *, group: str | None = None
    ) -> str: ...

    def pending_entries(
        self, stream: str, group: str, *, count: int = 100, min_idle_s: float = 0.0
    ) -> list[PendingEntry]: ...

    def group_info(self, stream: str, group: str) -> GroupInfo | None: ...

    def length(self, stream: str) -> int: ...

    def read(
        self, stream: str, *, after_id: str, count: int, block_s: float
    ) -> list[Entry]: ...

    def last_id(self, stream: str) -> str: ...

    def entries(self, stream: str, *, start: str = "-", end: str = "+",
                count: int | None = None) -> list[Entry]: ...

    def try_lock(self, name: str, *, ttl_s: float) -> HeldLock | None: ...

    def delete(self, *streams: str) -> None: ...

    def close(self) -> None: ...


def trim_threshold(
    groups: Sequence[tuple[StreamId, StreamId | None]],
) -> StreamId | None:
    """MINID below which every group has acknowledged everything, or None (no group: keep all).

    Each group is (last_delivered_id, oldest_pending_id or None). A group still owes its oldest
    pending entry; a group with nothing pending owes only what comes after its last delivery.
    """
    if not groups:
        return None
    owed = [pending if pending is not None else next_id(last) for last, pending in groups]
    return min(owed)


DEAD_SUFFIX = ":dead"


def dead_stream(stream: str) -> str:
    """Name of the dead-letter stream of `stream`."""
    return f"{stream}{DEAD_SUFFIX}"
