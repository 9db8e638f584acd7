"""Store, step two: stream entries → columns to write, and poison with its reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import cast

from preempt.domain import PHYSICAL_RANGES
from preempt.errors import InvalidMessage
from preempt.storage.metrics import SampleColumns
from preempt.streams import Entry
from preempt.streams.messages import WeatherBatch


@dataclass(frozen=True, slots=True)
class Parsed:
    columns: list[SampleColumns]
    sources: list[Entry]  # sources[i] is the entry columns[i] came from
    rows: int
    poison: list[tuple[Entry, str]]


def parse_entries(entries: Sequence[Entry], *, max_deliveries: int) -> Parsed:
    """Decode and validate entries; what cannot be stored becomes (entry, reason) poison."""
    columns: list[SampleColumns] = []
    sources: list[Entry] = []
    poison: list[tuple[Entry, str]] = []
    rows = 0
    for entry in entries:
        if entry.deliveries > max_deliveries:
            poison.append((entry, f"gave up after {entry.deliveries} deliveries"))
            continue
        try:
            batch = WeatherBatch.decode(entry.payload)
        except InvalidMessage as exc:
            poison.append((entry, str(exc)))
            continue
        values, rejected = _physical_only(batch)
        kept = sum(len(col) - col.count(None) for col in values.values())
        if rejected:
            # Out-of-range readings are dead-lettered, the rest of the entry is stored: one
            # entry is a location's whole fetch (up to 7 days x every metric), and one broken
            # sensor value must not discard hundreds of good readings nor block the stream.
            # The dead letter keeps the full original payload and names the rejected values,
            # so nothing is dropped silently and the entry can be replayed after a fix.
            poison.append((entry, f"{len(rejected)} of {len(rejected) + kept} samples out of "
                                  f"physical range ({'; '.join(rejected[:5])}); "
                                  f"stored the other {kept}"))
        if kept:
            times = [_naive_utc(t) for t in batch.times]
            columns.append(SampleColumns(batch.location_id, times, values))
            sources.append(entry)
            rows += kept
    return Parsed(columns, sources, rows, poison)


def _within(column: list[float | None], low: float, high: float) -> bool:
    """All readings in [low, high], at C speed (min/max/sum instead of a Python loop)."""
    present = column if None not in column else [v for v in column if v is not None]
    if not present:
        return True
    values = cast(list[float], present)  # no None left
    total = sum(values)
    return low <= min(values) and max(values) <= high and total == total  # NaN != NaN


@lru_cache(maxsize=65_536)  # the entries of one fetch share their hours
def _naive_utc(epoch_s: int) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC).replace(tzinfo=None)


def _physical_only(
    batch: WeatherBatch,
) -> tuple[dict[str, list[float | None]], list[str]]:
    """The batch's columns with out-of-range readings blanked, and a description of each."""
    values: dict[str, list[float | None]] = {}
    rejected: list[str] = []
    for metric, column in batch.values.items():
        low, high = PHYSICAL_RANGES.get(metric, (float("-inf"), float("inf")))
        if _within(column, low, high):
            values[metric] = column
            continue
        clean: list[float | None] = []
        for t, v in zip(batch.times, column, strict=True):
            if v is None or low <= v <= high:
                clean.append(v)
            else:
                clean.append(None)
                at = datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")
                rejected.append(f"{metric}={v!r} at {at}")
        values[metric] = clean
    return values, rejected
