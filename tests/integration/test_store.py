"""The store service in this process on real Redis and MariaDB/SQLite: the issue's guarantees.

Process-level tests (two `preempt store` processes, SIGKILL) are in test_store_processes.py.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.engine import Engine

from preempt.config import StoreSettings
from preempt.domain import DEFAULT_MONITORED_FIELDS
from preempt.services.store import StoreService, parse_entries
from preempt.storage.engine import create_engine_for
from preempt.storage.heartbeats import list_heartbeats
from preempt.storage.metrics import count_samples
from preempt.storage.tables import metrics
from preempt.streams import Entry, MemoryBus, RedisBus, dead_stream, names
from preempt.streams.messages import WeatherBatch

pytestmark = pytest.mark.integration

S = names.WEATHER_METRICS
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


def weather(location_id: int, hours: int = 24, *, start: int = T0, value: float = 10.0,
            metrics_: tuple[str, ...] = DEFAULT_MONITORED_FIELDS) -> WeatherBatch:
    return WeatherBatch(
        location_id=location_id, location=f"City {location_id}", kind="history", source="test",
        fetched_at=datetime.now(UTC), times=[start + 3600 * h for h in range(hours)],
        values={m: [value + h % 7 for h in range(hours)] for m in metrics_},
    )


def store_settings(**changes: Any) -> StoreSettings:
    base = {"block_s": 0.1, "claim_idle_s": 60.0, "summary_every_s": 3600.0,
            "retry_max_s": 0.5}
    base.update(changes)
    return StoreSettings.model_validate(base)


@pytest.fixture()
def bus(redis_url: str, redis_prefix: str) -> Iterator[RedisBus]:
    redis_bus = RedisBus.from_url(redis_url, prefix=redis_prefix)
    yield redis_bus
    redis_bus.close()


def rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return count_samples(conn)


def wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


class TcpProxy:
    """A TCP forwarder we can take down (closing every connection) and bring back on the same
    port: a database or Redis outage without touching the real server."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            if self._listener is not None:
                # shutdown wakes the thread blocked in accept(); close alone would not.
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    (b if src is a else a).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            a.close()
            b.close()


def test_store_writes_every_sample_once_then_acks(bus: RedisBus, engine: Engine) -> None:
    bus.add_many(S, [weather(1).encode(), weather(2).encode(), weather(3, 48).encode()])
    service = StoreService(store_settings(), bus=bus, engine=engine)
    stats = service.run(until_idle=True)
    assert rows(engine) == (24 + 24 + 48) * 5
    assert (stats.entries, stats.rows, stats.dead_letters) == (3, 480, 0)
    info = bus.group_info(S, "store")
    assert info is not None and (info.pending, info.lag) == (0, 0)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(metrics.c.value).where(
                metrics.c.location_id == 3, metrics.c.metric_type == "precipitation",
                metrics.c.timestamp == datetime(2026, 1, 1, 8),
            )
        ).scalar_one()
    assert stored == 11.0  # 10 + 8 % 7


def test_same_message_delivered_twice_yields_one_row(bus: RedisBus, engine: Engine) -> None:
    first = weather(7, 12, value=1.0)
    bus.add_many(S, [first.encode(), first.encode()])
    StoreService(store_settings(), bus=bus, engine=engine).run(until_idle=True)
    assert rows(engine) == 12 * 5
    # A later re-send with corrected values overwrites them, still one row per sample.
    bus.add(S, weather(7, 12, value=2.0).encode())
    StoreService(store_settings(), bus=bus, engine=engine).run(until_idle=True)
    assert rows(engine) == 12 * 5
    with engine.connect() as conn:
        values = {v for (v,) in conn.execute(sa.select(metrics.c.value).where(
            metrics.c.timestamp == datetime(2026, 1, 1, 0)))}
    assert values == {2.0}


def test_poison_entries_are_dead_lettered_with_reason_and_good_ones_stored(
    bus: RedisBus, mysql_engine: Engine
) -> None:
    partly_bad = weather(2, 4).model_dump(mode="json")
    partly_bad["values"]["relative_humidity_2m"][1] = 130.0
    partly_bad["values"]["temperature_2m"][3] = -120.0
    wrong_schema = weather(3, 4).model_dump(mode="json")
    del wrong_schema["location_id"]
    import orjson

    ids = bus.add_many(S, [
        weather(1, 4).encode(),
        b"{not json",
        orjson.dumps(wrong_schema),
        orjson.dumps({**weather(4, 4).model_dump(mode="json"), "v": 2}),
        orjson.dumps(partly_bad),
        b"[1, 2]",
        weather(5, 4).encode(),
    ])
    before = REGISTRY.get_sample_value("preempt_store_dead_letters_total") or 0.0
    stats = StoreService(store_settings(), bus=bus, engine=mysql_engine).run(until_idle=True)
    assert rows(mysql_engine) == 4 * 5 * 3 - 2
    dead = bus.entries(dead_stream(S))
    reasons = [d.headers["reason"] for d in dead]
    assert len(dead) == stats.dead_letters == 5
    assert reasons[0].startswith("not JSON")
    assert reasons[1] == "wrong schema at location_id: Field required"
    assert reasons[2] == "unsupported schema version 2"
    assert reasons[3].startswith("2 of 20 samples out of physical range")
    assert "relative_humidity_2m=130.0 at 2026-01-01T01:00:00Z" in reasons[3]
    assert reasons[3].endswith("stored the other 18")
    assert reasons[4] == "not a JSON object but list"
    assert dead[0].payload == b"{not json"
    assert [d.headers["source_id"] for d in dead] == ids[1:6]
    info = bus.group_info(S, "store")
    assert info is not None and info.pending == 0
    assert REGISTRY.get_sample_value("preempt_store_dead_letters_total") == before + 5


def test_stale_entries_of_a_dead_consumer_are_claimed_and_stored(
    bus: RedisBus, mysql_engine: Engine
) -> None:
    bus.ensure_group(S, "store")
    bus.add_many(S, [weather(i).encode() for i in range(1, 5)])
    taken = bus.read_group(S, "store", "crashed", count=3, block_s=0)
    assert len(taken) == 3
    patient = StoreService(store_settings(claim_idle_s=60), bus=bus, engine=mysql_engine)
    patient.run(until_idle=True)
    assert rows(mysql_engine) == 24 * 5  # only the unread one: the others are not idle enough
    time.sleep(0.35)
    service = StoreService(store_settings(claim_idle_s=0.3), bus=bus, engine=mysql_engine)
    stats = service.run(until_idle=True)
    assert stats.claimed == 3
    assert rows(mysql_engine) == 4 * 24 * 5
    assert bus.pending_entries(S, "store") == []


def test_an_entry_that_keeps_failing_is_dead_lettered(
    bus: RedisBus, mysql_engine: Engine
) -> None:
    bus.ensure_group(S, "store")
    bus.add(S, weather(1).encode())
    bus.read_group(S, "store", "crashed-1", count=1, block_s=0)
    bus.claim_stale(S, "store", "crashed-2", min_idle_s=0, count=1)  # 2 deliveries
    service = StoreService(store_settings(claim_idle_s=0.01, max_deliveries=2), bus=bus,
                           engine=mysql_engine)
    time.sleep(0.02)
    service.run(until_idle=True)
    [dead] = bus.entries(dead_stream(S))
    assert dead.headers["reason"] == "gave up after 3 deliveries"
    assert rows(mysql_engine) == 0
    assert bus.pending_entries(S, "store") == []


def test_trimming_never_removes_what_another_group_has_not_acknowledged(
    bus: RedisBus, mysql_engine: Engine
) -> None:
    bus.ensure_group(S, "store")
    bus.ensure_group(S, "audit")
    bus.add_many(S, [weather(i, 2).encode() for i in range(1, 11)])
    StoreService(store_settings(), bus=bus, engine=mysql_engine).run(until_idle=True)
    assert bus.length(S) == 10  # "audit" has consumed nothing yet
    audit = bus.read_group(S, "audit", "a", count=4, block_s=0)
    bus.ack(S, "audit", [e.id for e in audit])
    bus.add(S, weather(11, 2).encode())
    assert bus.trim(S) == 4
    assert bus.length(S) == 7
    StoreService(store_settings(), bus=bus, engine=mysql_engine).run(until_idle=True)
    assert rows(mysql_engine) == 11 * 2 * 5


def test_database_outage_waits_without_ack_then_stores_everything(
    bus: RedisBus, mysql_url: str, mysql_engine: Engine
) -> None:
    proxy = TcpProxy(3306)
    proxy.start()
    proxied = create_engine_for(mysql_url.replace("127.0.0.1:3306", f"127.0.0.1:{proxy.port}"))
    service = StoreService(store_settings(), bus=bus, engine=proxied)
    thread = threading.Thread(target=service.run)
    thread.start()
    try:
        bus.add(S, weather(1).encode())
        # Stored and acknowledged (were the proxy stopped between commit and its reply, the
        # store could not know the commit happened and would rightly write it again).
        wait_for(lambda: rows(mysql_engine) == 120 and bus.pending_entries(S, "store") == [])
        proxy.stop()
        bus.add_many(S, [weather(i).encode() for i in (2, 3)])
        wait_for(lambda: service.totals.db_retries >= 2)
        assert rows(mysql_engine) == 120
        info = bus.group_info(S, "store")
        assert info is not None and info.lag is not None
        assert info.pending >= 1 and info.pending + info.lag == 2  # read, not acknowledged
        proxy.start()
        wait_for(lambda: rows(mysql_engine) == 3 * 120)
        wait_for(lambda: bus.pending_entries(S, "store") == [])
    finally:
        service.stop.set()
        thread.join(10)
        proxy.stop()
        proxied.dispose()
    assert not thread.is_alive()


def test_redis_outage_makes_the_consumer_reconnect(
    redis_prefix: str, mysql_engine: Engine, bus: RedisBus
) -> None:
    proxy = TcpProxy(6379)
    proxy.start()
    proxied = RedisBus.from_url(f"redis://127.0.0.1:{proxy.port}/0", prefix=redis_prefix)
    service = StoreService(store_settings(), bus=proxied, engine=mysql_engine)
    thread = threading.Thread(target=service.run)
    thread.start()
    try:
        bus.add(S, weather(1).encode())
        wait_for(lambda: rows(mysql_engine) == 120)
        proxy.stop()
        bus.add(S, weather(2).encode())
        time.sleep(0.5)
        assert rows(mysql_engine) == 120
        proxy.start()
        wait_for(lambda: rows(mysql_engine) == 240)
    finally:
        service.stop.set()
        thread.join(10)
        proxy.stop()
        proxied.close()
    assert not thread.is_alive()


def test_stop_finishes_the_batch_and_records_a_heartbeat(
    bus: RedisBus, engine: Engine
) -> None:
    bus.add_many(S, [weather(i).encode() for i in range(1, 4)])
    service = StoreService(store_settings(batch_size=1), bus=bus, engine=engine)
    assert service.run_once() == "stored"
    service.stop.set()
    stats = service.run()
    assert stats.batches == 1
    assert rows(engine) == 120
    with engine.connect() as conn:
        [beat] = [b for b in list_heartbeats(conn) if b.service == "store"]
    assert beat.status == "stopped"
    assert beat.info["rows"] == 120
    assert bus.pending_entries(S, "store") == []


def test_batches_adapt_to_entry_size(bus: RedisBus, sqlite_engine: Engine) -> None:
    bus.add_many(S, [weather(i, 100).encode() for i in range(1, 41)])  # 500 samples each
    service = StoreService(store_settings(batch_rows=2000), bus=bus, engine=sqlite_engine)
    assert service.run_once() == "stored"
    assert service.totals.entries == 16  # first read: size unknown yet
    service.run_once()
    assert service.totals.entries == 16 + 4
    service.run(until_idle=True)
    assert rows(sqlite_engine) == 40 * 500


def test_parse_keeps_in_range_values_of_a_partly_bad_entry() -> None:
    batch = weather(1, 3, metrics_=("precipitation",)).model_dump(mode="json")
    batch["values"]["precipitation"] = [1.0, -5.0, None]
    import orjson

    parsed = parse_entries([Entry("1-0", orjson.dumps(batch))], max_deliveries=5)
    assert parsed.rows == 1
    assert list(parsed.columns[0].values["precipitation"]) == [1.0, None, None]
    [(entry, reason)] = parsed.poison
    assert entry.id == "1-0"
    assert reason == ("1 of 2 samples out of physical range (precipitation=-5.0 at "
                      "2026-01-01T01:00:00Z); stored the other 1")


def test_an_entry_the_database_rejects_is_dead_lettered_alone(
    bus: RedisBus, mysql_engine: Engine
) -> None:
    # location_id has no upper bound in the message schema, but the column is a 32-bit INT.
    ids = bus.add_many(S, [weather(1).encode(), weather(3_000_000_000).encode(),
                           weather(2).encode()])
    stats = StoreService(store_settings(), bus=bus, engine=mysql_engine).run(until_idle=True)
    assert rows(mysql_engine) == 2 * 120
    [dead] = bus.entries(dead_stream(S))
    assert dead.headers["source_id"] == ids[1]
    assert dead.headers["reason"].startswith("rejected by the database: (1264, \"Out of range")
    assert (stats.rows, stats.dead_letters) == (240, 1)
    assert bus.pending_entries(S, "store") == []


def test_store_runs_embedded_on_the_in_process_bus(sqlite_engine: Engine) -> None:
    memory = MemoryBus()
    memory.add_many(S, [weather(1).encode(), b"oops", weather(2).encode()])
    stats = StoreService(store_settings(), bus=memory, engine=sqlite_engine).run(until_idle=True)
    assert (stats.rows, stats.dead_letters) == (240, 1)
    assert rows(sqlite_engine) == 240
    assert memory.length(S) == 0  # everything acknowledged by the only group: trimmed
    assert memory.length(dead_stream(S)) == 1


def test_periodic_summary_line_and_gauges(
    bus: RedisBus, mysql_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    bus.ensure_group(S, "store")
    bus.ensure_group(S, "slow-reader")
    bus.add_many(S, [weather(i).encode() for i in range(1, 4)])
    bus.read_group(S, "slow-reader", "r", count=1, block_s=0)
    service = StoreService(store_settings(summary_every_s=0.01, batch_size=1), bus=bus,
                           engine=mysql_engine)
    with caplog.at_level("INFO", logger="preempt.services.store"):
        time.sleep(0.02)
        service.run(max_batches=2)
    summaries = [r.getMessage() for r in caplog.records if "rows/s" in r.getMessage()]
    assert summaries
    assert "stored 120 rows from 1 entries in 1 batches" in summaries[0]
    assert REGISTRY.get_sample_value("preempt_store_lag_entries") == 1.0
    assert REGISTRY.get_sample_value("preempt_store_pending_entries") == 0.0
