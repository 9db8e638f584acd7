"""Parsing forecast bodies: keep what is usable, count the rest."""

from __future__ import annotations

from collections import Counter

import numpy as np
import orjson
import pytest

from preempt.openmeteo.parse import MalformedBody, parse_body

UNITS = {"time": "unixtime", "temperature_2m": "°C", "precipitation": "mm"}


def obj(**hourly: object) -> dict[str, object]:
    return {"utc_offset_seconds": 0, "hourly_units": UNITS, "hourly": {"time": [0, 3600], **hourly}}


def test_partial_locations_and_nulls_are_kept_and_counted() -> None:
    body = orjson.dumps(
        [
            obj(temperature_2m=[1.5, None], precipitation=[0.0, 0.2]),
            "garbage",
            obj(temperature_2m=[1.0]),
            obj(temperature_2m=["x", 1.0], precipitation=[0, 1]),
        ]
    )
    errors: Counter[str] = Counter()
    out = parse_body(
        body,
        n_locations=4,
        section="hourly",
        metrics=["temperature_2m", "precipitation"],
        errors=errors,
    )
    assert out[1] is None
    first, third, fourth = out[0], out[2], out[3]
    assert first is not None and third is not None and fourth is not None
    np.testing.assert_array_equal(first.values["temperature_2m"], [1.5, np.nan])
    assert set(third.values) == set() and set(fourth.values) == {"precipitation"}
    assert errors == Counter(null_values=1, bad_location=1, bad_variable=2, missing_variable=1)


def test_whole_body_problems_raise() -> None:
    with pytest.raises(MalformedBody):
        parse_body(b'[{"lat', n_locations=1, section="hourly", metrics=[], errors=Counter())
    with pytest.raises(MalformedBody, match="expected 3 locations, got 2"):
        parse_body(
            orjson.dumps([obj(), obj()]),
            n_locations=3,
            section="hourly",
            metrics=[],
            errors=Counter(),
        )


def test_iso_times_are_converted_to_utc_and_current_is_one_sample() -> None:
    body = orjson.dumps(
        {
            "utc_offset_seconds": 7200,
            "current": {"time": "2026-05-04T12:15", "interval": 900, "temperature_2m": 17.2},
        }
    )
    out = parse_body(
        body, n_locations=1, section="current", metrics=["temperature_2m"], errors=Counter()
    )
    series = out[0]
    assert series is not None
    assert series.times.tolist() == [1777889700]  # 10:15 UTC
    assert series.values["temperature_2m"].tolist() == [17.2]
