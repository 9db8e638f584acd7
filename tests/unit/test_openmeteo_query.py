"""Emulator parameter decoding and time windows, as the server computes them."""

from __future__ import annotations

from datetime import date

import pytest

from preempt.openmeteo.emulator.query import (
    ForecastQuery,
    QueryError,
    collect_params,
    hourly_window,
    minutely_window,
    parse_query,
    query_weight,
)

NOW = 1_796_300_000  # 2026-12-03T12:13:20Z
TODAY = date(2026, 12, 3)


def parse(raw: str) -> ForecastQuery:
    pairs = [(name, value) for name, _, value in (p.partition("=") for p in raw.split("&"))]
    return parse_query(collect_params(pairs), today=TODAY, max_locations=1000)


def test_lists_may_be_comma_separated_or_repeated() -> None:
    q = parse("latitude=1,2&latitude=3&longitude=4,5,6&hourly=temperature_2m&hourly=precipitation")
    assert q.latitudes == (1.0, 2.0, 3.0) and q.hourly == ("temperature_2m", "precipitation")


def test_windows_follow_the_server() -> None:
    q = parse("latitude=1&longitude=2&past_days=7")
    w = hourly_window(q, now_s=NOW, offset_s=0)
    assert (w.n, w.start_s % 86400) == (336, 0)  # 7 past + 7 forecast days from 00:00
    q = parse("latitude=1&longitude=2&past_hours=3")
    assert hourly_window(q, now_s=NOW, offset_s=0).n == 3 + 16 * 24  # the server's quirk
    q = parse("latitude=1&longitude=2&past_hours=3&forecast_hours=1")
    w = hourly_window(q, now_s=NOW, offset_s=3600)
    assert (w.start_s, w.n) == (NOW // 3600 * 3600 - 3 * 3600, 4)
    q = parse("latitude=1&longitude=2&past_minutely_15=4&forecast_minutely_15=0")
    assert minutely_window(q, now_s=NOW, offset_s=0).start_s == NOW // 900 * 900 - 3600
    q = parse("latitude=1&longitude=2&start_date=2026-12-01&end_date=2026-12-02")
    assert hourly_window(q, now_s=NOW, offset_s=-3600).n == 48


def test_weight_of_a_request() -> None:
    five = "temperature_2m,relative_humidity_2m,dew_point_2m,precipitation,wind_speed_10m"
    q = parse(f"latitude=1,2,3&longitude=4,5,6&current={five}")
    assert query_weight(q, now_s=NOW) == 3.0
    q = parse(
        f"latitude=1&longitude=2&hourly={five},wind_gusts_10m,apparent_temperature,"
        "cloud_cover,pressure_msl,rain,showers,snowfall,weather_code,is_day,"
        "wind_direction_10m&past_days=14&forecast_days=14"
    )
    assert query_weight(q, now_s=NOW) == pytest.approx(3.0)


def test_out_of_range_dates_and_order() -> None:
    with pytest.raises(QueryError, match="End-date must be larger or equals than start-date"):
        parse("latitude=1&longitude=2&start_date=2026-12-02&end_date=2026-12-01")
    with pytest.raises(QueryError, match="'start_date' is out of allowed range from 2026-09-01"):
        parse("latitude=1&longitude=2&start_date=2020-01-01&end_date=2020-01-02")
    with pytest.raises(
        QueryError,
        match=r"Forecast days is invalid\. Allowed range 0 to 16\. "
        r"Given 16\.",
    ):
        parse("latitude=1&longitude=2&forecast_days=17")
