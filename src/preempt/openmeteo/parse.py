"""Forecast bodies -> per-location arrays, keeping whatever is usable.

A body that is not JSON, or has the wrong number of locations, is lost as a whole
(`malformed_body`); a location object that is not usable is lost alone (`bad_location`);
a missing/`undefined` variable (`missing_variable`) or a column of the wrong length or with
non-numbers (`bad_variable`) is dropped alone; nulls become NaN and are counted
(`null_values`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from preempt.domain import METRIC_UNITS


@dataclass(frozen=True, slots=True)
class LocationSeries:
    """Readings of one location: values[metric][i] at times[i] (epoch seconds, UTC); NaN =
    missing. A metric the response lacked is absent from `values`."""

    times: npt.NDArray[np.int64]
    values: dict[str, npt.NDArray[np.float64]]

    def __len__(self) -> int:
        return int(self.times.size)


class MalformedBody(Exception):
    """The body as a whole cannot be used."""


def parse_body(
    raw: bytes, *, n_locations: int, section: str, metrics: Sequence[str], errors: Counter[str]
) -> list[LocationSeries | None]:
    """One entry per requested location, in request order (None = that location is lost)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"not JSON: {exc}") from exc
    objects: list[Any] = [data] if n_locations == 1 and isinstance(data, dict) else data
    if not isinstance(objects, list) or len(objects) != n_locations:
        got = len(objects) if isinstance(objects, list) else type(objects).__name__
        raise MalformedBody(f"expected {n_locations} locations, got {got}")
    return [parse_location(obj, section=section, metrics=metrics, errors=errors) for obj in objects]


def parse_location(
    obj: Any, *, section: str, metrics: Sequence[str], errors: Counter[str]
) -> LocationSeries | None:
    if not isinstance(obj, dict):
        errors["bad_location"] += 1
        return None
    block = obj.get(section)
    units = obj.get(f"{section}_units")
    if not isinstance(block, dict):
        errors["bad_location"] += 1
        return None
    times = _times(block.get("time"), obj.get("utc_offset_seconds", 0))
    if times is None:
        errors["bad_location"] += 1
        return None
    scalar = section == "current"
    values: dict[str, npt.NDArray[np.float64]] = {}
    for metric in metrics:
        raw = block.get(metric)
        unit = units.get(metric) if isinstance(units, Mapping) else None
        if metric not in block or unit == "undefined":
            errors["missing_variable"] += 1
            continue
        if unit is not None and unit != METRIC_UNITS.get(metric, unit):
            errors["unit_mismatch"] += 1
            continue
        column = _column([raw] if scalar else raw, times.size)
        if column is None:
            errors["bad_variable"] += 1
            continue
        nulls = int(np.isnan(column).sum())
        if nulls:
            errors["null_values"] += nulls
        values[metric] = column
    return LocationSeries(times, values)


def _column(raw: Any, n: int) -> npt.NDArray[np.float64] | None:
    if not isinstance(raw, list) or len(raw) != n:
        return None
    try:
        arr = np.array(raw)
    except ValueError:
        return None
    if arr.ndim != 1:
        return None
    if arr.dtype.kind in "fiu":
        return arr.astype(np.float64)
    if arr.dtype.kind == "O" and all(v is None or type(v) in (int, float) for v in raw):
        return np.array(raw, dtype=np.float64)  # None -> NaN
    return None


def _times(raw: Any, offset: Any) -> npt.NDArray[np.int64] | None:
    """Epoch seconds from unixtime integers, or from local ISO strings minus the offset."""
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        return np.zeros(0, dtype=np.int64)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        return np.array(items, dtype=np.int64)
    if all(isinstance(v, str) for v in items) and isinstance(offset, int):
        try:
            local = np.array(items, dtype="datetime64[m]").astype("datetime64[s]")
        except ValueError:
            return None
        return np.asarray(local.astype(np.int64) - offset, dtype=np.int64)
    return None
