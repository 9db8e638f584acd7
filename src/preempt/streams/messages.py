"""Payloads of stream entries: one pydantic model per stream, shared by producer and consumer.

weather_metrics carries one WeatherBatch per location per fetch, columnar (a time axis and one
value list per metric) so that a 7-day bootstrap is 1 entry per location, not 840.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from preempt.domain import KNOWN_METRICS, Sample
from preempt.errors import InvalidMessage

WEATHER_SCHEMA_VERSION: Literal[1] = 1


class WeatherBatch(BaseModel):
    """Readings of one location: values[metric][i] was observed at times[i] (epoch s, UTC)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = WEATHER_SCHEMA_VERSION
    location_id: int = Field(ge=1)
    location: str = Field(min_length=1, max_length=200)
    kind: Literal["history", "current", "backfill"]
    source: str = Field(min_length=1, max_length=64)
    fetched_at: datetime
    times: list[int]
    values: dict[str, list[float | None]]

    @model_validator(mode="after")
    def _aligned(self) -> WeatherBatch:
        for metric, column in self.values.items():
            if metric not in KNOWN_METRICS:
                raise ValueError(f"unknown metric {metric!r}")
            if len(column) != len(self.times):
                raise ValueError(
                    f"{metric} has {len(column)} values for {len(self.times)} times"
                )
        return self

    def samples(self) -> Iterator[Sample]:
        """Every non-null reading as a Sample with a naive UTC timestamp."""
        stamps = [datetime.fromtimestamp(t, UTC).replace(tzinfo=None) for t in self.times]
        for metric, column in self.values.items():
            for stamp, value in zip(stamps, column, strict=True):
                if value is not None:
                    yield Sample(self.location_id, metric, stamp, value)

    def sample_count(self) -> int:
        return sum(1 for column in self.values.values() for v in column if v is not None)

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def decode(cls, raw: bytes | str) -> WeatherBatch:
        """Parse a stream payload; InvalidMessage names what is wrong with it."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidMessage(f"not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidMessage(f"not a JSON object but {type(data).__name__}")
        if data.get("v") != WEATHER_SCHEMA_VERSION:
            raise InvalidMessage(f"unsupported schema version {data.get('v')!r}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "payload"
            raise InvalidMessage(f"wrong schema at {where}: {err['msg']}") from exc
