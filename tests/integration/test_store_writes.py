"""storage.metrics writes (the store's hot path) on MariaDB and SQLite: idempotent and exact."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from preempt.domain import Sample
from preempt.storage.metrics import (
    SampleColumns,
    count_samples,
    newest_sample_times,
    write_columns,
    write_samples,
)
from preempt.storage.tables import metrics
from preempt.storage.upsert import upsert_rows

pytestmark = pytest.mark.integration

T = [datetime(2026, 1, 1, h) for h in range(3)]


def stored(engine: Engine) -> list[tuple[int, str, datetime, float]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            sa.select(metrics.c.location_id, metrics.c.metric_type, metrics.c.timestamp,
                      metrics.c.value).order_by(metrics.c.location_id, metrics.c.metric_type,
                                                metrics.c.timestamp))]


def test_columns_and_samples_upsert_the_same_rows(engine: Engine) -> None:
    columns = SampleColumns(4, T, {"temperature_2m": [1.5, None, -3.25],
                                   "precipitation": [0.0, 0.1, 1e-05]})
    with engine.begin() as conn:
        assert write_columns(conn, [columns]) == 5
    with engine.begin() as conn:  # the same facts again, one corrected: still 5 rows
        assert write_samples(conn, [Sample(4, "temperature_2m", T[0], 2.5),
                                    Sample(4, "precipitation", T[2], 1e-05)]) == 2
    assert stored(engine) == [
        (4, "precipitation", T[0], 0.0), (4, "precipitation", T[1], 0.1),
        (4, "precipitation", T[2], 1e-05),
        (4, "temperature_2m", T[0], 2.5), (4, "temperature_2m", T[2], -3.25),
    ]
    with engine.connect() as conn:
        assert newest_sample_times(conn) == {4: T[2]}


def test_rows_written_by_sqlalchemy_and_by_the_fast_path_share_the_unique_key(
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        upsert_rows(conn, metrics, [{"location_id": 1, "metric_type": "rain",
                                     "timestamp": T[1], "value": 1.0}],
                    key=("location_id", "metric_type", "timestamp"), update=("value",))
        write_columns(conn, [SampleColumns(1, T[1:2], {"rain": [2.0]})])
        assert count_samples(conn) == 1
    assert stored(engine) == [(1, "rain", T[1], 2.0)]


def test_a_key_twice_in_one_call_keeps_the_last_value(engine: Engine) -> None:
    with engine.begin() as conn:
        write_samples(conn, [Sample(1, "rain", T[0], 1.0), Sample(1, "rain", T[0], 3.0)])
    assert stored(engine) == [(1, "rain", T[0], 3.0)]


def test_large_writes_span_several_statements(engine: Engine) -> None:
    times = [datetime.fromtimestamp(1_767_225_600 + 3600 * h, UTC).replace(tzinfo=None)
             for h in range(2500)]
    series = [SampleColumns(loc, times, {"temperature_2m": [float(h % 50) for h in range(2500)],
                                         "rain": [0.5] * 2500}) for loc in (1, 2, 3)]
    with engine.begin() as conn:
        assert write_columns(conn, series) == 15_000
        assert count_samples(conn) == 15_000


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_values_are_refused(engine: Engine, value: float) -> None:
    with engine.begin() as conn, pytest.raises(ValueError, match="finite"):
        write_samples(conn, [Sample(1, "rain", T[0], value)])
    with engine.begin() as conn, pytest.raises(ValueError, match="finite"):
        write_columns(conn, [SampleColumns(1, T[:1], {"rain": [value]})])


def test_metric_names_cannot_carry_sql(mysql_engine: Engine) -> None:
    with mysql_engine.begin() as conn, pytest.raises(ValueError, match="not a metric name"):
        write_columns(conn, [SampleColumns(1, T[:1], {"rain'),(1,'x": [1.0]})])
