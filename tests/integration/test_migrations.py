"""Migrations run up, down and up again on MariaDB and SQLite; the schema has its unique keys."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from preempt.storage import migrate
from preempt.storage.engine import create_engine_for, ensure_database
from preempt.storage.tables import metadata
from tests.conftest import MYSQL_SERVER_URL, _unique

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "mysql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: object) -> Engine:
    if request.param == "sqlite":
        engine = create_engine_for(f"sqlite:///{tmp_path}/m.db")
        request.addfinalizer(engine.dispose)
        return engine
    name = _unique("preempt_migr")
    url = f"{MYSQL_SERVER_URL}/{name}?charset=utf8mb4"
    ensure_database(url)
    engine = create_engine_for(url)

    def drop() -> None:
        engine.dispose()
        server = create_engine_for(MYSQL_SERVER_URL)
        with server.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()

    request.addfinalizer(drop)
    return engine


def _tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_up_down_up_round_trip(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    assert _tables(empty_engine) == set(metadata.tables)
    assert migrate.status(empty_engine).is_current

    migrate.downgrade(empty_engine, "base")
    assert _tables(empty_engine) == set()
    assert migrate.status(empty_engine).current is None

    migrate.upgrade(empty_engine)
    assert _tables(empty_engine) == set(metadata.tables)


def test_one_step_down_removes_only_the_last_migration(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    head = migrate.status(empty_engine).head
    migrate.downgrade(empty_engine, "-1")
    state = migrate.status(empty_engine)
    assert state.current != head
    assert state.pending == (head,)


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("locations", ["name"]),
        ("metrics", ["location_id", "metric_type", "timestamp"]),
        ("anomalies", ["location_id", "metric_type", "timestamp"]),
        ("alarm_suggestions", ["location_id", "metric_type", "direction"]),
    ],
)
def test_schema_has_idempotency_keys(empty_engine: Engine, table: str, columns: list[str]) -> None:
    migrate.upgrade(empty_engine)
    inspector = sa.inspect(empty_engine)
    uniques = [u["column_names"] for u in inspector.get_unique_constraints(table)]
    uniques += [i["column_names"] for i in inspector.get_indexes(table) if i.get("unique")]
    uniques.append(inspector.get_pk_constraint(table)["constrained_columns"])
    assert columns in uniques


def test_migrated_schema_matches_table_definitions(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    inspector = sa.inspect(empty_engine)
    for table in metadata.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name


def test_sample_written_twice_is_one_row(empty_engine: Engine) -> None:
    from datetime import datetime

    from preempt.domain import Sample
    from preempt.storage.metrics import count_samples, write_samples

    migrate.upgrade(empty_engine)
    sample = Sample(1, "temperature_2m", datetime(2026, 1, 1, 12), 3.5)
    with empty_engine.begin() as conn:
        write_samples(conn, [sample])
    with empty_engine.begin() as conn:
        write_samples(conn, [sample, Sample(1, "temperature_2m", datetime(2026, 1, 1, 12), 4.0)])
        assert count_samples(conn) == 1
        value = conn.execute(sa.text("SELECT value FROM metrics")).scalar_one()
    assert value == 4.0
