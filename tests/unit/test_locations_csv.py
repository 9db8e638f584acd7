"""Locations CSV validation: each kind of bad row gets its line number and reason."""

from __future__ import annotations

from preempt.locations_csv import parse_locations_csv


def test_minimal_columns_default_timezone_to_utc() -> None:
    parsed = parse_locations_csv("name,latitude,longitude\nTokyo,35.6762,139.6503\n")
    assert parsed.problems == []
    assert parsed.locations[0].timezone == "UTC"
    assert parsed.locations[0].latitude == 35.6762


def test_missing_header_column_is_reported_on_line_1() -> None:
    parsed = parse_locations_csv("name,lat,longitude\nTokyo,1,2\n")
    assert [str(p) for p in parsed.problems] == [
        "line 1: header lacks column(s) latitude; got ['name', 'lat', 'longitude']"
    ]
    assert parsed.locations == []


def test_empty_file() -> None:
    problem = parse_locations_csv("").problems[0]
    assert str(problem) == "line 1: file is empty (expected a header line)"


def test_blank_lines_are_skipped_and_line_numbers_stay_true() -> None:
    parsed = parse_locations_csv("name,latitude,longitude\n\nA,1,2\n\nB,100,2\n")
    assert [p.line for p in parsed.problems] == [5]
    assert [loc.name for loc in parsed.locations] == ["A"]


def test_duplicate_names_ignore_case() -> None:
    parsed = parse_locations_csv("name,latitude,longitude\nLima,1,2\nLIMA,3,4\n")
    assert str(parsed.problems[0]) == "line 3: duplicate name 'LIMA' (first on line 2)"


def test_non_finite_coordinates_are_rejected() -> None:
    parsed = parse_locations_csv("name,latitude,longitude\nA,nan,2\nB,1,inf\n")
    assert [p.line for p in parsed.problems] == [2, 3]
