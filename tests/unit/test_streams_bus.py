"""One behavioural suite for both stream buses: the in-process twin must behave like Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from preempt.config import load_settings
from preempt.errors import ConfigError, UpstreamError
from preempt.streams import (
    MemoryBus,
    RedisBus,
    StreamBus,
    dead_stream,
    open_bus,
    request_replies,
    send_reply,
)

S = "weather_metrics"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
def bus(request: pytest.FixtureRequest) -> Iterator[StreamBus]:
    if request.param == "memory":
        yield MemoryBus(prefix="t:")
        return
    prefix = request.getfixturevalue("redis_prefix")
    redis_bus = RedisBus.from_url(request.getfixturevalue("redis_url"), prefix=prefix)
    yield redis_bus
    redis_bus.close()


def test_entries_reach_one_consumer_each_with_payload_and_headers(bus: StreamBus) -> None:
    bus.ensure_group(S, "g")
    ids = bus.add_many(S, [b"a", b"b", b"c"], headers=[{"k": "1"}, {}, {"k": "3"}])
    first = bus.read_group(S, "g", "c1", count=2, block_s=0)
    second = bus.read_group(S, "g", "c2", count=10, block_s=0)
    assert [e.payload for e in first] == [b"a", b"b"]
    assert [e.payload for e in second] == [b"c"]
    assert [e.id for e in first + second] == ids
    assert first[0].headers == {"k": "1"} and second[0].headers == {"k": "3"}
    assert first[0].deliveries == 1


def test_ensure_group_is_idempotent_and_starts_at_the_beginning(bus: StreamBus) -> None:
    bus.add(S, b"before")
    bus.ensure_group(S, "g")
    bus.ensure_group(S, "g")
    assert [e.payload for e in bus.read_group(S, "g", "c", count=10, block_s=0)] == [b"before"]


def test_groups_each_get_every_entry(bus: StreamBus) -> None:
    bus.ensure_group(S, "a")
    bus.ensure_group(S, "b")
    bus.add(S, b"x")
    assert len(bus.read_group(S, "a", "c", count=10, block_s=0)) == 1
    assert len(bus.read_group(S, "b", "c", count=10, block_s=0)) == 1


def test_read_group_blocks_until_an_entry_arrives(bus: StreamBus) -> None:
    bus.ensure_group(S, "g")
    started = time.monotonic()
    assert bus.read_group(S, "g", "c", count=10, block_s=0.3) == []
    assert time.monotonic() - started >= 0.25
    timer = threading.Timer(0.2, lambda: bus.add(S, b"late"))
    timer.start()
    got = bus.read_group(S, "g", "c", count=10, block_s=5)
    timer.join()
    assert [e.payload for e in got] == [b"late"]


def test_ack_removes_from_pending_and_group_info_counts(bus: StreamBus) -> None:
    bus.ensure_group(S, "g")
    bus.add_many(S, [b"1", b"2", b"3"])
    info = bus.group_info(S, "g")
    assert info is not None and info.lag == 3 and info.pending == 0
    got = bus.read_group(S, "g", "c", count=2, block_s=0)
    info = bus.group_info(S, "g")
    assert info is not None and info.lag == 1 and info.pending == 2
    assert info.last_delivered_id == got[-1].id
    assert bus.ack(S, "g", [got[0].id]) == 1
    assert bus.ack(S, "g", [got[0].id]) == 0
    pending = bus.pending_entries(S, "g")
    assert [(p.id, p.consumer, p.deliveries) for p in pending] == [(got[1].id, "c", 1)]
    assert bus.group_info(S, "missing") is None


def test_claim_stale_takes_only_idle_entries_and_counts_deliveries(bus: StreamBus) -> None:
    bus.ensure_group(S, "g")
    bus.add_many(S, [b"1", b"2"])
    dead = bus.read_group(S, "g", "dead-consumer", count=10, block_s=0)
    assert bus.claim_stale(S, "g", "live", min_idle_s=5, count=10) == []
    time.sleep(0.15)
    assert [p.idle_s >= 0.1 for p in bus.pending_entries(S, "g", min_idle_s=0.1)] == [True] * 2
    claimed = bus.claim_stale(S, "g", "live", min_idle_s=0.1, count=10)
    assert [e.id for e in claimed] == [e.id for e in dead]
    assert [e.deliveries for e in claimed] == [2, 2]
    assert {p.consumer for p in bus.pending_entries(S, "g")} == {"live"}
    assert bus.ack(S, "g", [e.id for e in claimed]) == 2


def test_claim_stale_respects_count(bus: StreamBus) -> None:
    bus.ensure_group(S, "g")
    bus.add_many(S, [b"%d" % i for i in range(5)])
    bus.read_group(S, "g", "dead", count=10, block_s=0)
    assert len(bus.claim_stale(S, "g", "live", min_idle_s=0, count=3)) == 3


def test_dead_letter_keeps_payload_and_reason_and_acks(bus: StreamBus) -> None:
    bus.ensure_group(S, "g")
    bus.add(S, b"not json", headers={"origin": "test"})
    [entry] = bus.read_group(S, "g", "c", count=1, block_s=0)
    bus.dead_letter(S, entry, "not JSON: unexpected character", group="g")
    [dead] = bus.entries(dead_stream(S))
    assert dead.payload == b"not json"
    assert dead.headers["reason"] == "not JSON: unexpected character"
    assert dead.headers["source_id"] == entry.id
    assert dead.headers["source_stream"] == S
    assert dead.headers["origin"] == "test"
    assert bus.pending_entries(S, "g") == []


def test_trim_never_removes_entries_a_group_has_not_acknowledged(bus: StreamBus) -> None:
    bus.ensure_group(S, "fast")
    bus.ensure_group(S, "slow")
    ids = bus.add_many(S, [b"%d" % i for i in range(6)])
    fast = bus.read_group(S, "fast", "c", count=6, block_s=0)
    bus.ack(S, "fast", [e.id for e in fast])
    assert bus.trim(S) == 0  # "slow" has read nothing
    slow = bus.read_group(S, "slow", "c", count=4, block_s=0)
    assert bus.trim(S) == 0  # read but not acknowledged: still owed
    bus.ack(S, "slow", [e.id for e in slow[:1]] + [e.id for e in slow[2:]])
    assert bus.trim(S) == 1  # only ids[0]; ids[1] is pending, ids[4:] unread
    assert [e.id for e in bus.entries(S)] == ids[1:]
    bus.ack(S, "slow", [slow[1].id])
    assert bus.trim(S) == 3
    assert [e.id for e in bus.entries(S)] == ids[4:]
    assert [e.payload for e in bus.read_group(S, "slow", "c", count=10, block_s=0)] == [b"4", b"5"]


def test_adding_trims_acknowledged_entries_only(bus: StreamBus) -> None:
    bus.ensure_group(S, "g")
    bus.add_many(S, [b"1", b"2"])
    got = bus.read_group(S, "g", "c", count=10, block_s=0)
    bus.ack(S, "g", [got[0].id])
    bus.add_many(S, [b"3"])
    assert [e.payload for e in bus.entries(S)] == [b"2", b"3"]


def test_a_stream_without_groups_is_never_trimmed(bus: StreamBus) -> None:
    bus.add_many(S, [b"1", b"2", b"3"])
    assert bus.trim(S) == 0
    assert bus.length(S) == 3


def test_maxlen_caps_a_group_less_stream(bus: StreamBus) -> None:
    for i in range(300):
        bus.add("replies", b"%d" % i, maxlen=100)
    assert 100 <= bus.length("replies") < 300


def test_plain_read_after_an_id_and_last_id(bus: StreamBus) -> None:
    assert bus.last_id(S) == "0-0"
    first = bus.add(S, b"1")
    second = bus.add(S, b"2")
    assert bus.last_id(S) == second
    assert [e.id for e in bus.read(S, after_id="0-0", count=10, block_s=0)] == [first, second]
    assert [e.id for e in bus.read(S, after_id=first, count=10, block_s=0)] == [second]
    assert bus.read(S, after_id=second, count=10, block_s=0.1) == []


def test_lock_is_exclusive_until_released_or_expired(bus: StreamBus) -> None:
    lock = bus.try_lock("lock:collect", ttl_s=30)
    assert lock is not None
    assert bus.try_lock("lock:collect", ttl_s=10) is None
    assert lock.refresh()
    assert lock.release()
    with bus.try_lock("lock:collect", ttl_s=0.2) as again:  # type: ignore[union-attr]
        assert again is not None
    expiring = bus.try_lock("lock:collect", ttl_s=0.1)
    assert expiring is not None
    time.sleep(0.25)
    other = bus.try_lock("lock:collect", ttl_s=10)
    assert other is not None
    assert not expiring.release()  # must not free the other holder's lock
    assert not expiring.refresh()
    assert bus.try_lock("lock:collect", ttl_s=10) is None
    assert other.release()


def test_request_replies_matches_job_ids_and_times_out_on_missing(bus: StreamBus) -> None:
    bus.ensure_group("ml_input", "ml")
    send_reply(bus, "ml_output", job_id="old", payload=b"stale")

    def worker() -> None:
        handled = 0
        while handled < 3:
            for entry in bus.read_group("ml_input", "ml", "w", count=10, block_s=5):
                job = entry.headers["job_id"]
                if job != "never":
                    send_reply(bus, "ml_output", job_id=job, payload=b"done " + entry.payload)
                bus.ack("ml_input", "ml", [entry.id])
                handled += 1

    thread = threading.Thread(target=worker)
    thread.start()
    replies = request_replies(
        bus, request_stream="ml_input", reply_stream="ml_output",
        jobs={"j1": b"a", "j2": b"b", "never": b"c"}, timeout_s=1.0, poll_block_s=0.2,
    )
    thread.join()
    assert {k: v.payload for k, v in replies.items()} == {"j1": b"done a", "j2": b"done b"}


def test_open_bus_without_redis_needs_the_in_process_opt_in() -> None:
    settings = load_settings(env={"PREEMPT_VAR_DIR": "/nonexistent"})
    with pytest.raises(ConfigError, match="no Redis configured"):
        open_bus(settings)
    assert isinstance(open_bus(settings, in_process=True), MemoryBus)


@pytest.mark.integration
def test_redis_unreachable_is_an_upstream_error() -> None:
    bus = RedisBus.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(UpstreamError, match="redis XADD"):
        bus.add(S, b"x")


def test_concurrent_consumers_get_each_entry_exactly_once(bus: StreamBus) -> None:
    bus.ensure_group(S, "g")
    bus.add_many(S, [b"%d" % i for i in range(600)])
    seen: list[bytes] = []
    lock = threading.Lock()

    def consume(name: str) -> None:
        while got := bus.read_group(S, "g", name, count=7, block_s=0):
            bus.ack(S, "g", [e.id for e in got])
            with lock:
                seen.extend(e.payload for e in got)

    threads = [threading.Thread(target=consume, args=(f"c{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == sorted(b"%d" % i for i in range(600))
    assert bus.pending_entries(S, "g") == []
