"""`preempt seed`: 892 real locations, idempotent, line-numbered errors, --strict."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from preempt.storage.engine import create_engine_for
from tests.cli_helpers import REPO, run_preempt

pytestmark = pytest.mark.integration

LOCATIONS_CSV = REPO / "data" / "locations.csv"


@pytest.fixture(params=["sqlite", "mysql"])
def db_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    request.getfixturevalue("mysql_engine")  # empties the tables
    return str(request.getfixturevalue("mysql_url"))


def _names(url: str) -> list[str]:
    engine = create_engine_for(url)
    with engine.connect() as conn:
        names = [r[0] for r in conn.execute(sa.text("SELECT name FROM locations ORDER BY id"))]
    engine.dispose()
    return names


def test_seed_imports_892_locations_then_nothing_on_rerun(db_url: str) -> None:
    env = {"PREEMPT_DATABASE_URL": db_url}
    started = time.perf_counter()
    first = run_preempt("seed", "--csv", str(LOCATIONS_CSV), env=env)
    elapsed = time.perf_counter() - started
    assert first.returncode == 0, first.stderr
    assert "Import complete! Successfully inserted 892 locations" in first.stdout
    assert len(_names(db_url)) == 892
    print(f"seed of 892 locations took {elapsed:.2f}s including process start")

    second = run_preempt("seed", "--csv", str(LOCATIONS_CSV), env=env)
    assert second.returncode == 0, second.stderr
    assert "Import complete! Successfully inserted 0 locations" in second.stdout
    assert "892 already present" in second.stdout
    assert len(_names(db_url)) == 892


def test_locations_csv_has_892_unique_real_cities() -> None:
    lines = LOCATIONS_CSV.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "name,latitude,longitude,country_code,timezone"
    assert len(lines) == 893
    names = [line.split(",")[0] for line in lines[1:]]
    assert len({n.casefold() for n in names}) == 892
    assert "Hyderabad" in names and '"Hyderabad' in LOCATIONS_CSV.read_text()


BAD_CSV = """name,latitude,longitude,country_code,timezone
Goodtown,10.5,20.25,FR,Europe/Paris
Northpole,95.0,0,,UTC
Nowhere,abc,0,,UTC
,1,2,,UTC
Goodtown,1,2,FR,Europe/Paris
Short,1
"Quote's ; DROP TABLE locations;--",1,2,,UTC
Farwest,10,-181,US,America/New_York
Badzone,1,2,XX,Mars/Olympus
Ünïcode Ville,45.1,5.7,FR,Europe/Paris
"""


def test_bad_rows_are_reported_with_line_numbers_and_good_rows_imported(
    db_url: str, tmp_path: Path
) -> None:
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text(BAD_CSV, encoding="utf-8")
    result = run_preempt("seed", "--csv", str(csv_file), env={"PREEMPT_DATABASE_URL": db_url})
    assert result.returncode == 0, result.stderr
    errors = result.stderr
    assert "line 3: latitude '95.0' out of range [-90, 90]" in errors
    assert "line 4: latitude 'abc' is not a number" in errors
    assert "line 5: missing field 'name'" in errors
    assert "line 6: duplicate name 'Goodtown' (first on line 2)" in errors
    assert "line 7: malformed line: 2 fields, header has 5" in errors
    assert "line 9: longitude '-181' out of range [-180, 180]" in errors
    assert "line 10: timezone 'Mars/Olympus' is not an IANA time zone" in errors
    assert "Import complete! Successfully inserted 3 locations" in result.stdout
    assert _names(db_url) == ["Goodtown", "Quote's ; DROP TABLE locations;--", "Ünïcode Ville"]


def test_strict_imports_nothing_when_a_row_is_bad(db_url: str, tmp_path: Path) -> None:
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text(BAD_CSV, encoding="utf-8")
    result = run_preempt(
        "seed", "--csv", str(csv_file), "--strict", env={"PREEMPT_DATABASE_URL": db_url}
    )
    assert result.returncode == 2
    assert "nothing imported (--strict)" in result.stderr
    assert "Traceback" not in result.stderr
    assert _names(db_url) == []


def test_seed_on_unmigrated_database_says_to_migrate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    result = run_preempt("seed", env={"PREEMPT_DATABASE_URL": url})
    assert result.returncode == 2
    assert result.stderr.strip().endswith("is not migrated: run 'preempt migrate up'")
