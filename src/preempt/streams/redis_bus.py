"""The stream bus on Redis Streams (redis-py): what every distributed service talks through.

Redis connection failures are translated once, here, into UpstreamError; redis-py reconnects on
the next command, so a caller that backs off and retries survives a Redis restart.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import redis
from redis import exceptions as rexc

from preempt.errors import UpstreamError
from preempt.streams import names
from preempt.streams.bus import (
    Entry,
    GroupInfo,
    PendingEntry,
    dead_stream,
    format_id,
    parse_id,
    trim_threshold,
)

_PAYLOAD = names.PAYLOAD_FIELD.encode()
# Pipelines of XADD are sent in chunks so that a million-entry add_many stays flat in memory.
_PIPELINE_CHUNK = 1000
# Release/refresh a lock only when it still holds our token (another holder may own it now).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) " \
           "else return 0 end"
_REFRESH = "if redis.call('get', KEYS[1]) == ARGV[1] then " \
           "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
# Transient failures: the server is down, restarting, loading its data set or failing over.
_TRANSIENT = (rexc.ConnectionError, rexc.TimeoutError, rexc.BusyLoadingError, rexc.ReadOnlyError)


@contextmanager
def _upstream(what: str) -> Iterator[None]:
    try:
        yield
    except _TRANSIENT as exc:
        raise UpstreamError(f"redis {what} failed: {exc}") from exc


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry(raw_id: bytes | str, fields: Mapping[bytes, bytes] | None, deliveries: int) -> Entry:
    fields = fields or {}
    headers = {
        _text(k): v.decode(errors="replace") for k, v in fields.items() if k != _PAYLOAD
    }
    return Entry(_text(raw_id), fields.get(_PAYLOAD, b""), headers, deliveries)


def _fields(payload: bytes, headers: Mapping[str, str] | None) -> dict[str | bytes, bytes | str]:
    fields: dict[str | bytes, bytes | str] = {_PAYLOAD: payload}
    if headers:
        fields.update(headers)
    return fields


class RedisBus:
    """StreamBus on a Redis server (>= 6.2 for XAUTOCLAIM; 7.0 reports consumer lag)."""

    def __init__(
        self, client: redis.Redis[bytes], *, prefix: str = "", trim_every_s: float = 1.0
    ) -> None:
        # Any: redis-py's annotations are partial (several stream commands are untyped).
        self._client: Any = client
        self.prefix = prefix
        self._trim_every_s = trim_every_s
        self._trimmed_at: dict[str, float] = {}

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "", trim_every_s: float = 1.0) -> RedisBus:
        # socket_timeout bounds every call (blocking reads are capped well below it), so a
        # half-open connection surfaces as UpstreamError instead of a hang.
        client = redis.Redis.from_url(
            url, socket_timeout=60, socket_connect_timeout=5, health_check_interval=30
        )
        return cls(client, prefix=prefix, trim_every_s=trim_every_s)

    def _k(self, name: str) -> str:
        return names.key(self.prefix, name)

    # --- producing -------------------------------------------------------------------------

    def add(
        self,
        stream: str,
        payload: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        maxlen: int | None = None,
    ) -> str:
        with _upstream(f"XADD {stream}"):
            entry_id = self._client.xadd(
                self._k(stream), _fields(payload, headers), maxlen=maxlen, approximate=True,
            )
        if maxlen is None:
            self._maybe_trim(stream)
        return _text(entry_id)

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
        key = self._k(stream)
        ids: list[str] = []
        with _upstream(f"XADD {stream}"):
            for start in range(0, len(payloads), _PIPELINE_CHUNK):
                pipe = self._client.pipeline(transaction=False)
                for i in range(start, min(start + _PIPELINE_CHUNK, len(payloads))):
                    fields = _fields(payloads[i], headers[i] if headers else None)
                    pipe.xadd(key, fields, maxlen=maxlen, approximate=True)
                ids.extend(_text(i) for i in pipe.execute())
        if maxlen is None and payloads:
            self._trimmed_at.pop(stream, None)
            self._maybe_trim(stream)
        return ids

    def _maybe_trim(self, stream: str) -> None:
        now = time.monotonic()
        if now - self._trimmed_at.get(stream, -1e9) >= self._trim_every_s:
            self._trimmed_at[stream] = now
            self.trim(stream)

    def trim(self, stream: str) -> int:
        """XTRIM MINID below what every group has acknowledged; returns entries removed."""
        key = self._k(stream)
        with _upstream(f"trim {stream}"):
            try:
                groups = self._client.xinfo_groups(key)
            except rexc.ResponseError:  # no such stream
                return 0
            pipe = self._client.pipeline(transaction=False)
            for g in groups:
                pipe.xpending(key, g["name"])
            summaries = pipe.execute() if groups else []
            state = [
                (
                    parse_id(_text(g["last-delivered-id"])),
                    parse_id(_text(s["min"])) if s["pending"] else None,
                )
                for g, s in zip(groups, summaries, strict=True)
            ]
            threshold = trim_threshold(state)
            if threshold is None:
                return 0
            # Exact MINID: an approximate trim would be safe too, but keeps an unknown number.
            removed = self._client.xtrim(key, minid=format_id(threshold), approximate=False)
            return int(removed)

    # --- consuming -------------------------------------------------------------------------

    def ensure_group(self, stream: str, group: str, *, start_id: str = "0") -> None:
        with _upstream(f"XGROUP CREATE {stream} {group}"):
            try:
                self._client.xgroup_create(self._k(stream), group, id=start_id, mkstream=True)
            except rexc.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def read_group(
        self, stream: str, group: str, consumer: str, *, count: int, block_s: float
    ) -> list[Entry]:
        key = self._k(stream)
        block = int(min(block_s, 30.0) * 1000) if block_s > 0 else None
        with _upstream(f"XREADGROUP {stream} {group}"):
            try:
                reply = self._client.xreadgroup(group, consumer, {key: ">"}, count=count,
                                                block=block)
            except rexc.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                # The stream or group vanished (Redis restarted without persistence, or the
                # key was deleted): recreate and read again rather than crash.
                self.ensure_group(stream, group)
                reply = self._client.xreadgroup(group, consumer, {key: ">"}, count=count,
                                                block=block)
        return [_entry(i, f, 1) for _, items in (reply or []) for i, f in items]

    def ack(self, stream: str, group: str, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        with _upstream(f"XACK {stream}"):
            return int(self._client.xack(self._k(stream), group, *ids))

    def claim_stale(
        self, stream: str, group: str, consumer: str, *, min_idle_s: float, count: int
    ) -> list[Entry]:
        """XAUTOCLAIM entries idle >= min_idle_s (any consumer's, ours too) up to `count`."""
        key = self._k(stream)
        idle_ms = int(min_idle_s * 1000)
        claimed: list[tuple[Any, Any]] = []
        cursor: Any = "0-0"
        with _upstream(f"XAUTOCLAIM {stream} {group}"):
            try:
                while len(claimed) < count:
                    reply = self._client.xautoclaim(key, group, consumer, idle_ms,
                                                    start_id=cursor, count=count - len(claimed))
                    cursor, items = reply[0], reply[1]
                    # Entries trimmed/deleted meanwhile are dropped from the PEL by Redis 7.
                    claimed.extend((i, f) for i, f in items if f is not None)
                    if _text(cursor) == "0-0":
                        break
            except rexc.ResponseError as exc:
                if "NOGROUP" in str(exc):
                    return []
                raise
            if not claimed:
                return []
            counts = {
                _text(p["message_id"]): int(p["times_delivered"])
                for p in self._client.xpending_range(
                    key, group, min=claimed[0][0], max=claimed[-1][0], count=len(claimed) + 1000,
                    consumername=consumer,
                )
            }
        return [_entry(i, f, counts.get(_text(i), 1)) for i, f in claimed]

    def dead_letter(
        self, stream: str, entry: Entry, reason: str, *, group: str | None = None
    ) -> str:
        """Copy `entry` to `<stream>:dead` with its reason; with `group`, also ack it (atomic)."""
        headers = dict(entry.headers)
        headers.update({
            "reason": reason[:2000], "source_stream": stream, "source_id": entry.id,
            "deliveries": str(entry.deliveries),
            "failed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        })
        with _upstream(f"dead-letter {stream}"):
            pipe = self._client.pipeline(transaction=True)
            pipe.xadd(self._k(dead_stream(stream)), _fields(entry.payload, headers))
            if group is not None:
                pipe.xack(self._k(stream), group, entry.id)
            result = pipe.execute()
        return _text(result[0])

    def pending_entries(
        self, stream: str, group: str, *, count: int = 100, min_idle_s: float = 0.0
    ) -> list[PendingEntry]:
        with _upstream(f"XPENDING {stream} {group}"):
            try:
                rows = self._client.xpending_range(
                    self._k(stream), group, min="-", max="+", count=count,
                    idle=int(min_idle_s * 1000) or None,
                )
            except rexc.ResponseError as exc:
                if "NOGROUP" in str(exc):
                    return []
                raise
        return [
            PendingEntry(_text(r["message_id"]), _text(r["consumer"]),
                         r["time_since_delivered"] / 1000.0, int(r["times_delivered"]))
            for r in rows
        ]

    def group_info(self, stream: str, group: str) -> GroupInfo | None:
        with _upstream(f"XINFO GROUPS {stream}"):
            try:
                groups = self._client.xinfo_groups(self._k(stream))
            except rexc.ResponseError:
                return None
        for g in groups:
            if _text(g["name"]) == group:
                lag = g.get("lag")
                return GroupInfo(
                    name=group, consumers=int(g["consumers"]), pending=int(g["pending"]),
                    last_delivered_id=_text(g["last-delivered-id"]),
                    lag=None if lag is None else int(lag),
                )
        return None

    def length(self, stream: str) -> int:
        with _upstream(f"XLEN {stream}"):
            return int(self._client.xlen(self._k(stream)))

    # --- plain reads (request/reply, inspection) -------------------------------------------

    def read(self, stream: str, *, after_id: str, count: int, block_s: float) -> list[Entry]:
        block = int(min(block_s, 30.0) * 1000) if block_s > 0 else None
        with _upstream(f"XREAD {stream}"):
            reply = self._client.xread({self._k(stream): after_id}, count=count, block=block)
        return [_entry(i, f, 0) for _, items in (reply or []) for i, f in items]

    def last_id(self, stream: str) -> str:
        with _upstream(f"XINFO STREAM {stream}"):
            try:
                info = self._client.xinfo_stream(self._k(stream))
            except rexc.ResponseError:  # no such stream yet
                return "0-0"
        return _text(info["last-generated-id"])

    def entries(self, stream: str, *, start: str = "-", end: str = "+",
                count: int | None = None) -> list[Entry]:
        with _upstream(f"XRANGE {stream}"):
            rows = self._client.xrange(self._k(stream), min=start, max=end, count=count)
        return [_entry(i, f, 0) for i, f in rows]

    # --- locks -----------------------------------------------------------------------------

    def try_lock(self, name: str, *, ttl_s: float) -> RedisLock | None:
        """SET NX PX with a random token; None when another process holds the lock."""
        token = secrets.token_hex(16)
        key = self._k(name)
        with _upstream(f"lock {name}"):
            if not self._client.set(key, token, nx=True, px=int(ttl_s * 1000)):
                return None
        return RedisLock(self._client, name=name, key=key, token=token, ttl_s=ttl_s)

    def delete(self, *streams: str) -> None:
        if streams:
            with _upstream("DEL"):
                self._client.delete(*(self._k(s) for s in streams))

    def close(self) -> None:
        self._client.close()


class RedisLock:
    """A held lock: token-checked refresh and release (Lua), so we never free another's lock."""

    def __init__(self, client: Any, *, name: str, key: str, token: str,
                 ttl_s: float) -> None:
        self.name = name
        self._client = client
        self._key = key
        self._token = token
        self._ttl_s = ttl_s

    def refresh(self, ttl_s: float | None = None) -> bool:
        ttl_ms = int((ttl_s or self._ttl_s) * 1000)
        with _upstream(f"lock refresh {self.name}"):
            return bool(self._client.eval(_REFRESH, 1, self._key, self._token, ttl_ms))

    def release(self) -> bool:
        with _upstream(f"lock release {self.name}"):
            return bool(self._client.eval(_RELEASE, 1, self._key, self._token))

    def __enter__(self) -> RedisLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
