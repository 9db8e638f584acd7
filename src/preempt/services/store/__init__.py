"""Store: stream weather_metrics → metrics table, nothing lost, nothing doubled.

A consumer group member: reads a batch, parses it, upserts it in one transaction, dead-letters
poison, acknowledges last. A database outage makes it wait and retry without acknowledging; a
Redis outage makes it back off and reconnect; a dead member's entries are claimed after
`claim_idle_s`. Any number of processes share the work through the group.

    stats = store.run(settings.store, bus=bus, engine=engine, stop=stop_event)
"""

from __future__ import annotations

import threading

from sqlalchemy.engine import Engine

from preempt.config import StoreSettings
from preempt.services.store.parse import Parsed, parse_entries
from preempt.services.store.service import StoreService, StoreStats
from preempt.streams import StreamBus, consumer_name

__all__ = ["Parsed", "StoreService", "StoreStats", "consumer_name", "parse_entries", "run"]


def run(
    settings: StoreSettings,
    *,
    bus: StreamBus,
    engine: Engine,
    stop: threading.Event | None = None,
    max_batches: int | None = None,
    until_idle: bool = False,
) -> StoreStats:
    """Run one store consumer until `stop` is set (or the bound is reached)."""
    service = StoreService(settings, bus=bus, engine=engine, stop=stop)
    return service.run(max_batches=max_batches, until_idle=until_idle)
