"""Streams between services: Redis Streams in production, an in-process twin when embedded.

Open a bus once per process (or once for all services of `preempt up`) and pass it down::

    from preempt.streams import open_bus, names
    bus = open_bus(settings)                      # RedisBus; ConfigError without Redis
    bus = open_bus(settings, in_process=True)     # only `preempt up`: MemoryBus, share it

All names are logical (`names.WEATHER_METRICS`); the bus prefixes them with
`settings.redis_prefix` itself. Payloads are bytes (`WeatherBatch.encode()`, orjson), stored in
the entry field `names.PAYLOAD_FIELD`; optional string `headers` ride along as extra fields.
Redis connection failures raise `UpstreamError` (back off and retry: the client reconnects by
itself on the next call). `StreamBus` methods (stream/group/consumer are `str`):

Producing
    add(stream, payload, *, headers=None, maxlen=None) -> str          entry id
    add_many(stream, payloads, *, headers=None, maxlen=None) -> list[str]   pipelined
        Without `maxlen`, the stream is trimmed safely after adding (at most once a second
        per stream on Redis): only entries every consumer group has acknowledged are removed;
        a stream without any group is never trimmed. `maxlen` (approximate cap, no safe trim)
        is for group-less streams such as replies.
    trim(stream) -> int                     the safe trim now (XTRIM MINID); entries removed

Consuming (consumer groups, at-least-once: ack only after your work is committed)
    ensure_group(stream, group, *, start_id="0") -> None    idempotent, creates the stream
    read_group(stream, group, consumer, *, count, block_s) -> list[Entry]   new entries (">")
        block_s=0: do not wait. A group that vanished (Redis restarted empty) is recreated.
    ack(stream, group, ids) -> int
    claim_stale(stream, group, consumer, *, min_idle_s, count) -> list[Entry]
        XAUTOCLAIM of entries pending longer than min_idle_s (a dead consumer's); each Entry's
        `deliveries` says how often it was handed out, to dead-letter entries that keep failing.
    dead_letter(stream, entry, reason, *, group=None) -> str
        Copies the payload and headers to `<stream>:dead` with headers reason, source_stream,
        source_id, deliveries, failed_at; with `group` it also acks the entry, atomically.
    pending_entries(stream, group, *, count=100, min_idle_s=0.0) -> list[PendingEntry]
    group_info(stream, group) -> GroupInfo | None     consumers, pending, last_delivered_id, lag
    length(stream) -> int

Plain reads
    read(stream, *, after_id, count, block_s) -> list[Entry]     XREAD after an id ("$": new)
    last_id(stream) -> str                  last id ever added ("0-0" for a new stream)
    entries(stream, *, start="-", end="+", count=None) -> list[Entry]   XRANGE

Locks ("runs never overlap")
    try_lock(name, *, ttl_s) -> HeldLock | None     None: someone else holds it
        HeldLock: refresh(ttl_s=None) -> bool, release() -> bool, usable as `with lock:`.
        Redis: SET NX PX + token-checked Lua release/refresh. Refresh during runs longer than
        the TTL, or another process may take the lock.

Other: delete(*streams), close(). `consumer_name()` gives a per-process consumer name.

Request/reply (streams.rpc): `request_replies(bus, request_stream=ML_INPUT,
reply_stream=ML_OUTPUT, jobs={job_id: payload}, timeout_s=60) -> {job_id: Entry}` publishes
jobs with header `job_id` and waits for replies carrying the same header (missing ids timed
out); the worker answers with `send_reply(bus, ML_OUTPUT, job_id=..., payload=...)`.

Types (streams.bus): `Entry(id, payload, headers, deliveries)`,
`PendingEntry(id, consumer, idle_s, deliveries)`, `GroupInfo(name, consumers, pending,
last_delivered_id, lag)`.
"""

from __future__ import annotations

from preempt.config import Settings
from preempt.errors import ConfigError
from preempt.streams import names
from preempt.streams.bus import (
    Entry,
    GroupInfo,
    HeldLock,
    PendingEntry,
    StreamBus,
    consumer_name,
    dead_stream,
)
from preempt.streams.memory_bus import MemoryBus
from preempt.streams.redis_bus import RedisBus
from preempt.streams.rpc import request_replies, send_reply

__all__ = [
    "Entry",
    "GroupInfo",
    "HeldLock",
    "MemoryBus",
    "PendingEntry",
    "RedisBus",
    "StreamBus",
    "consumer_name",
    "dead_stream",
    "names",
    "open_bus",
    "request_replies",
    "send_reply",
]


def open_bus(settings: Settings, *, in_process: bool = False) -> StreamBus:
    """RedisBus when Redis is configured; else the in-process twin if the caller allows it."""
    if settings.redis_url:
        return RedisBus.from_url(settings.redis_url, prefix=settings.redis_prefix)
    if in_process:
        return MemoryBus(prefix=settings.redis_prefix)
    raise ConfigError(
        "no Redis configured (set REDIS_HOST or PREEMPT_REDIS_URL); a standalone service needs "
        "Redis streams, or run everything in one process with 'preempt up'"
    )
