"""Pure pieces of the API: metric names in step with the domain, cursors, tokens, time windows,
the data-source flag."""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta, timezone

from preempt.api.context import decode_cursor, encode_cursor, time_window, to_utc
from preempt.api.routes.health import data_source
from preempt.api.schemas import MetricName
from preempt.api.security import hash_token, identify, new_token
from preempt.config import ApiToken, OpenMeteoSettings, Settings
from preempt.domain import KNOWN_METRICS


def test_metric_names_in_the_schema_match_the_domain() -> None:
    assert set(typing.get_args(MetricName)) == set(KNOWN_METRICS)


def test_cursor_round_trips_to_the_microsecond() -> None:
    moment = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)
    cursor = encode_cursor(moment, 987654321)
    assert decode_cursor(cursor) == (moment, 987654321)


def test_tokens_are_matched_by_hash_only() -> None:
    secret = new_token()
    tokens = (ApiToken(name="a", role="admin", sha256=hash_token(secret)),)
    found = identify(tokens, secret)
    assert found is not None and found.name == "a"
    assert identify(tokens, secret + "x") is None
    assert secret not in repr(tokens)


def test_time_window_defaults_and_empty_windows() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    assert time_window(hours=24, since=None, until=None, now=now) == (now - timedelta(days=1),
                                                                       now)
    start, end = time_window(hours=1, since=datetime(2026, 1, 5), until=datetime(2026, 1, 1))
    assert start == end == datetime(2026, 1, 1, tzinfo=UTC)


def test_unrepresentable_times_are_clamped_not_errors() -> None:
    early = datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert to_utc(early) == datetime.min.replace(tzinfo=UTC)
    assert time_window(hours=24, since=None, until=datetime(1, 1, 1, 1))[0].year == 1


def test_source_flag_says_simulated_for_any_other_forecast_url() -> None:
    def source(url: str) -> str:
        return data_source(Settings(database_url="sqlite://", redis_url=None,
                                    openmeteo=OpenMeteoSettings(url=url)))

    assert source("https://api.open-meteo.com/v1/forecast") == "open-meteo"
    assert source("https://customer-api.open-meteo.com/v1/forecast") == "open-meteo"
    assert source("http://127.0.0.1:8090/v1/forecast") == "simulated"


def test_the_anomaly_method_filter_knows_every_method_the_detector_names() -> None:
    from typing import get_args

    from preempt.api.routes.anomalies import Method
    from preempt.detection.combine import METHOD_ORDER

    assert set(METHOD_ORDER) <= set(get_args(Method))
