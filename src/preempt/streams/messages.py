"""Payloads of stream entries: one pydantic model per stream, shared by producer and consumer.

weather_metrics carries one WeatherBatch per location per fetch, columnar (a time axis and one
value list per metric) so that a 7-day bootstrap is 1 entry per location, not 840. ml_input
carries MLJob, ml_output MLResult, detect_jobs DetectJob.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
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


# --- ml_input / ml_output / detect_jobs ------------------------------------------------------
#
# An ML job carries the 7-day window of many series (one per (location, metric)) as packed
# arrays: times as int32 seconds after `base_s` (INT32_MIN = padding of a ragged row), values as
# float32 (NaN = missing), row-major (S, n). Samples at or after `split_s[i]` are the ones to
# score; the reply carries their scores in the same row-major order of that mask.

ML_SCHEMA_VERSION: Literal[1] = 1
TIME_PAD: int = -(2**31)


def pack_array(array: npt.NDArray[Any], dtype: str) -> str:
    """Base64 of the array's bytes in little-endian `dtype` ("<i4", "<f4")."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def unpack_array(text: str, dtype: str, size: int, what: str) -> npt.NDArray[Any]:
    """Inverse of pack_array; InvalidMessage when the text is not base64 of `size` items."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise InvalidMessage(f"{what} is not base64: {exc}") from exc
    array = np.frombuffer(raw, dtype=dtype)
    if array.size != size:
        raise InvalidMessage(f"{what} holds {array.size} items, expected {size}")
    return array


_M = TypeVar("_M", bound=BaseModel)


def _decode_model(cls: type[_M], raw: bytes | str, version: int) -> _M:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidMessage(f"not a JSON object but {type(data).__name__}")
    if data.get("v") != version:
        raise InvalidMessage(f"unsupported schema version {data.get('v')!r}")
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "payload"
        raise InvalidMessage(f"wrong schema at {where}: {err['msg']}") from exc



class MLJob(BaseModel):
    """detect → ml-trainer: score the new samples of these series (train models if needed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = ML_SCHEMA_VERSION
    job_id: str = Field(min_length=1, max_length=128)
    cycle_id: str = Field(min_length=1, max_length=64)
    location_ids: list[int]  # one per series
    metric_types: list[str]  # one per series
    base_s: int
    n: int = Field(ge=0)
    times: str  # pack_array(int32 offsets, "<i4"), S * n items
    values: str  # pack_array(float32, "<f4"), S * n items
    split_s: list[float]  # per series: score samples at or after this time
    deadline_s: float  # epoch: after this, detect no longer waits (skip the job)

    @model_validator(mode="after")
    def _aligned(self) -> MLJob:
        s = len(self.location_ids)
        if len(self.metric_types) != s or len(self.split_s) != s:
            raise ValueError("location_ids, metric_types and split_s differ in length")
        unknown = {m for m in self.metric_types if m not in KNOWN_METRICS}
        if unknown:
            raise ValueError(f"unknown metric {sorted(unknown)[0]!r}")
        return self

    @classmethod
    def from_arrays(
        cls,
        *,
        job_id: str,
        cycle_id: str,
        location_ids: list[int],
        metric_types: list[str],
        times_s: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        split_s: npt.NDArray[np.float64],
        deadline_s: float,
    ) -> MLJob:
        finite = np.isfinite(times_s)
        base = int(np.min(times_s[finite])) if finite.any() else 0
        offsets = np.where(finite, np.nan_to_num(times_s - base), TIME_PAD).astype(np.int64)
        return cls(
            job_id=job_id, cycle_id=cycle_id, location_ids=location_ids,
            metric_types=metric_types, base_s=base, n=int(values.shape[1]),
            times=pack_array(offsets, "<i4"), values=pack_array(values, "<f4"),
            split_s=[float(x) for x in split_s], deadline_s=deadline_s,
        )

    def arrays(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(times_s (S, n) with NaN padding, values (S, n)) as float64."""
        shape = (len(self.location_ids), self.n)
        size = shape[0] * shape[1]
        offsets = unpack_array(self.times, "<i4", size, "times").reshape(shape)
        values = unpack_array(self.values, "<f4", size, "values").reshape(shape)
        times = np.where(offsets == TIME_PAD, np.nan, offsets.astype(np.float64) + self.base_s)
        return times, values.astype(np.float64)

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def decode(cls, raw: bytes | str) -> MLJob:
        return _decode_model(cls, raw, ML_SCHEMA_VERSION)


def scored_mask(
    times_s: npt.NDArray[np.float64], split_s: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """The samples an ML job scores: finite times at or after their row's split."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(times_s) & (times_s >= split_s[:, None])


class MLResult(BaseModel):
    """ml-trainer → detect: iforest scores of the job's scored samples, or why there are none."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = ML_SCHEMA_VERSION
    job_id: str = Field(min_length=1, max_length=128)
    ok: bool
    error: str | None = None
    scores: str = ""  # pack_array(float32, "<f4") in row-major order of scored_mask
    count: int = 0  # items in scores
    fitted_at_s: list[float] = Field(default_factory=list)  # per series; NaN: no model
    trained: int = 0  # series whose model this job (re)trained
    worker: str = ""
    duration_s: float = 0.0

    def score_array(self) -> npt.NDArray[np.float64]:
        return unpack_array(self.scores, "<f4", self.count, "scores").astype(np.float64)

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def decode(cls, raw: bytes | str) -> MLResult:
        return _decode_model(cls, raw, ML_SCHEMA_VERSION)


DETECT_SCHEMA_VERSION: Literal[1] = 1


class DetectJob(BaseModel):
    """detect planner → detect workers: judge this batch of locations in cycle `cycle_id`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = DETECT_SCHEMA_VERSION
    cycle_id: str = Field(min_length=1, max_length=64)
    job_no: int = Field(ge=0)
    jobs: int = Field(ge=1)
    location_ids: list[int]
    planned_at: datetime

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def decode(cls, raw: bytes | str) -> DetectJob:
        return _decode_model(cls, raw, DETECT_SCHEMA_VERSION)
