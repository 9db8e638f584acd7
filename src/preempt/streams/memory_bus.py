"""The in-process twin of RedisBus for the embedded `preempt up`: same semantics, no server.

Thread-safe (one condition guards everything; blocking reads wait on it). Consumer groups,
pending entries with idle times and delivery counts, claims, dead letters, safe trimming and
TTL locks behave as on Redis, so services run unchanged on either.
"""

from __future__ import annotations

import bisect
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType

from preempt.streams import names
from preempt.streams.bus import (
    Entry,
    GroupInfo,
    PendingEntry,
    StreamId,
    dead_stream,
    format_id,
    parse_id,
    trim_threshold,
)


@dataclass
class _Pending:
    consumer: str
    delivered_at: float  # monotonic seconds
    deliveries: int


@dataclass
class _Group:
    last_delivered: StreamId
    pending: dict[StreamId, _Pending] = field(default_factory=dict)
    consumers: set[str] = field(default_factory=set)


@dataclass
class _Stream:
    ids: list[StreamId] = field(default_factory=list)
    data: dict[StreamId, tuple[bytes, dict[str, str]]] = field(default_factory=dict)
    last_id: StreamId = (0, 0)
    groups: dict[str, _Group] = field(default_factory=dict)


def _range_id(raw: str, *, low: bool) -> StreamId:
    if raw == "-":
        return (0, 0)
    if raw == "+":
        return (2**63, 0)
    if "-" not in raw:
        return (int(raw), 0 if low else 2**64 - 1)
    return parse_id(raw)


class MemoryBus:
    """StreamBus in this process's memory (lost on exit: embedded mode only)."""

    def __init__(self, *, prefix: str = "") -> None:
        self.prefix = prefix
        self._cond = threading.Condition()
        self._streams: dict[str, _Stream] = {}
        self._locks: dict[str, tuple[str, float]] = {}

    def _s(self, stream: str) -> _Stream:
        key = names.key(self.prefix, stream)
        if key not in self._streams:
            self._streams[key] = _Stream()
        return self._streams[key]

    def _new_id(self, s: _Stream) -> StreamId:
        ms = int(time.time() * 1000)
        last_ms, last_seq = s.last_id
        new = (last_ms, last_seq + 1) if ms <= last_ms else (ms, 0)
        s.last_id = new
        return new

    def _append(self, s: _Stream, payload: bytes, headers: Mapping[str, str] | None) -> str:
        new = self._new_id(s)
        s.ids.append(new)
        s.data[new] = (payload, dict(headers or {}))
        return format_id(new)

    # --- producing -------------------------------------------------------------------------

    def add(
        self,
        stream: str,
        payload: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        maxlen: int | None = None,
    ) -> str:
        return self.add_many(stream, [payload], headers=[headers or {}], maxlen=maxlen)[0]

    def add_many(
        self,
        stream: str,
        payloads: Sequence[bytes],
        *,
        headers: Sequence[Mapping[str, str]] | None = None,
        maxlen: int | None = None,
    ) -> list[str]:
        if headers is not None and len(headers) != len(payloads):
            raise ValueError(f"{len(headers)} headers for {len(payloads)} payloads")
        with self._cond:
            s = self._s(stream)
            ids = [
                self._append(s, p, headers[i] if headers else None)
                for i, p in enumerate(payloads)
            ]
            if maxlen is not None:
                self._drop_below(s, len(s.ids) - maxlen)
            else:
                self._trim_locked(s)
            self._cond.notify_all()
        return ids

    def _drop_below(self, s: _Stream, index: int) -> int:
        if index <= 0:
            return 0
        for old in s.ids[:index]:
            del s.data[old]
        del s.ids[:index]
        return index

    def _trim_locked(self, s: _Stream) -> int:
        state = [
            (g.last_delivered, next(iter(g.pending)) if g.pending else None)
            for g in s.groups.values()
        ]
        threshold = trim_threshold(state)
        if threshold is None:
            return 0
        return self._drop_below(s, bisect.bisect_left(s.ids, threshold))

    def trim(self, stream: str) -> int:
        with self._cond:
            return self._trim_locked(self._s(stream))

    # --- consuming -------------------------------------------------------------------------

    def ensure_group(self, stream: str, group: str, *, start_id: str = "0") -> None:
        with self._cond:
            s = self._s(stream)
            if group not in s.groups:
                start = s.last_id if start_id == "$" else _range_id(start_id, low=True)
                s.groups[group] = _Group(last_delivered=start)

    def read_group(
        self, stream: str, group: str, consumer: str, *, count: int, block_s: float
    ) -> list[Entry]:
        deadline = time.monotonic() + max(block_s, 0.0)
        with self._cond:
            while True:
                s = self._s(stream)
                if group not in s.groups:  # like Redis after a restart: recreate
                    s.groups[group] = _Group(last_delivered=(0, 0))
                g = s.groups[group]
                g.consumers.add(consumer)
                start = bisect.bisect_right(s.ids, g.last_delivered)
                fresh = s.ids[start : start + count]
                if fresh:
                    now = time.monotonic()
                    for i in fresh:
                        g.pending[i] = _Pending(consumer, now, 1)
                    g.last_delivered = fresh[-1]
                    return [self._entry(s, i, 1) for i in fresh]
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left)

    @staticmethod
    def _entry(s: _Stream, i: StreamId, deliveries: int) -> Entry:
        payload, headers = s.data[i]
        return Entry(format_id(i), payload, dict(headers), deliveries)

    def ack(self, stream: str, group: str, ids: Sequence[str]) -> int:
        with self._cond:
            g = self._s(stream).groups.get(group)
            if g is None:
                return 0
            return sum(1 for i in ids if g.pending.pop(parse_id(i), None) is not None)

    def claim_stale(
        self, stream: str, group: str, consumer: str, *, min_idle_s: float, count: int
    ) -> list[Entry]:
        with self._cond:
            s = self._s(stream)
            g = s.groups.get(group)
            if g is None:
                return []
            now = time.monotonic()
            claimed: list[Entry] = []
            for i, p in list(g.pending.items()):
                if len(claimed) >= count:
                    break
                if now - p.delivered_at < min_idle_s:
                    continue
                if i not in s.data:  # trimmed or deleted: Redis 7 drops it from the PEL
                    del g.pending[i]
                    continue
                p.consumer, p.delivered_at, p.deliveries = consumer, now, p.deliveries + 1
                g.consumers.add(consumer)
                claimed.append(self._entry(s, i, p.deliveries))
            return claimed

    def dead_letter(
        self, stream: str, entry: Entry, reason: str, *, group: str | None = None
    ) -> str:
        headers = dict(entry.headers)
        headers.update({
            "reason": reason[:2000], "source_stream": stream, "source_id": entry.id,
            "deliveries": str(entry.deliveries),
            "failed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        })
        with self._cond:
            dead_id = self._append(self._s(dead_stream(stream)), entry.payload, headers)
            if group is not None:
                g = self._s(stream).groups.get(group)
                if g is not None:
                    g.pending.pop(parse_id(entry.id), None)
            self._cond.notify_all()
            return dead_id

    def pending_entries(
        self, stream: str, group: str, *, count: int = 100, min_idle_s: float = 0.0
    ) -> list[PendingEntry]:
        with self._cond:
            g = self._s(stream).groups.get(group)
            if g is None:
                return []
            now = time.monotonic()
            rows = [
                PendingEntry(format_id(i), p.consumer, now - p.delivered_at, p.deliveries)
                for i, p in g.pending.items()
                if now - p.delivered_at >= min_idle_s
            ]
            return rows[:count]

    def group_info(self, stream: str, group: str) -> GroupInfo | None:
        with self._cond:
            s = self._s(stream)
            g = s.groups.get(group)
            if g is None:
                return None
            lag = len(s.ids) - bisect.bisect_right(s.ids, g.last_delivered)
            return GroupInfo(name=group, consumers=len(g.consumers), pending=len(g.pending),
                             last_delivered_id=format_id(g.last_delivered), lag=lag)

    def length(self, stream: str) -> int:
        with self._cond:
            return len(self._s(stream).ids)

    # --- plain reads -----------------------------------------------------------------------

    def read(self, stream: str, *, after_id: str, count: int, block_s: float) -> list[Entry]:
        deadline = time.monotonic() + max(block_s, 0.0)
        with self._cond:
            while True:
                s = self._s(stream)
                after = s.last_id if after_id == "$" else _range_id(after_id, low=False)
                after_id = format_id(after)
                start = bisect.bisect_right(s.ids, after)
                found = s.ids[start : start + count]
                if found:
                    return [self._entry(s, i, 0) for i in found]
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left)

    def last_id(self, stream: str) -> str:
        with self._cond:
            return format_id(self._s(stream).last_id)

    def entries(self, stream: str, *, start: str = "-", end: str = "+",
                count: int | None = None) -> list[Entry]:
        with self._cond:
            s = self._s(stream)
            lo = bisect.bisect_left(s.ids, _range_id(start, low=True))
            hi = bisect.bisect_right(s.ids, _range_id(end, low=False))
            found = s.ids[lo:hi] if count is None else s.ids[lo:hi][:count]
            return [self._entry(s, i, 0) for i in found]

    # --- locks -----------------------------------------------------------------------------

    def try_lock(self, name: str, *, ttl_s: float) -> MemoryLock | None:
        key = names.key(self.prefix, name)
        with self._cond:
            now = time.monotonic()
            held = self._locks.get(key)
            if held is not None and held[1] > now:
                return None
            token = secrets.token_hex(8)
            self._locks[key] = (token, now + ttl_s)
        return MemoryLock(self, name=name, key=key, token=token, ttl_s=ttl_s)

    def _refresh_lock(self, key: str, token: str, ttl_s: float) -> bool:
        with self._cond:
            held = self._locks.get(key)
            if held is None or held[0] != token or held[1] <= time.monotonic():
                return False
            self._locks[key] = (token, time.monotonic() + ttl_s)
            return True

    def _release_lock(self, key: str, token: str) -> bool:
        with self._cond:
            held = self._locks.get(key)
            if held is None or held[0] != token:
                return False
            del self._locks[key]
            return held[1] > time.monotonic()

    def delete(self, *streams: str) -> None:
        with self._cond:
            for stream in streams:
                self._streams.pop(names.key(self.prefix, stream), None)

    def close(self) -> None:
        """Nothing to release; wakes blocked readers so they can notice a stop flag."""
        with self._cond:
            self._cond.notify_all()


class MemoryLock:
    def __init__(self, bus: MemoryBus, *, name: str, key: str, token: str, ttl_s: float) -> None:
        self.name = name
        self._bus = bus
        self._key = key
        self._token = token
        self._ttl_s = ttl_s

    def refresh(self, ttl_s: float | None = None) -> bool:
        return self._bus._refresh_lock(self._key, self._token, ttl_s or self._ttl_s)

    def release(self) -> bool:
        return self._bus._release_lock(self._key, self._token)

    def __enter__(self) -> MemoryLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
