"""Parse and validate a locations CSV (name, latitude, longitude[, country_code, timezone]).

Pure: text in, valid rows and line-numbered problems out. Nothing here touches the database.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from zoneinfo import available_timezones

from preempt.domain import NewLocation

REQUIRED_COLUMNS = ("name", "latitude", "longitude")
OPTIONAL_COLUMNS = ("country_code", "timezone")
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class ParsedCsv:
    locations: list[NewLocation]
    problems: list[RowProblem]


def parse_locations_csv(text: str) -> ParsedCsv:
    """Valid rows in file order, and one problem per rejected line (1-based, header = 1)."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return ParsedCsv([], [RowProblem(1, "file is empty (expected a header line)")])
    except csv.Error as exc:
        return ParsedCsv([], [RowProblem(1, f"malformed header: {exc}")])
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        return ParsedCsv(
            [], [RowProblem(1, f"header lacks column(s) {', '.join(missing)}; got {header}")]
        )
    index = {name: header.index(name) for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
             if name in header}
    zones = available_timezones()
    locations: list[NewLocation] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(RowProblem(reader.line_num, f"malformed line: {exc}"))
            continue
        line = reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            problems.append(RowProblem(
                line, f"malformed line: {len(fields)} fields, header has {len(header)}"
            ))
            continue
        result = _parse_row(fields, index, zones)
        if isinstance(result, str):
            problems.append(RowProblem(line, result))
            continue
        key = result.name.casefold()
        if key in seen:
            problems.append(RowProblem(
                line, f"duplicate name {result.name!r} (first on line {seen[key]})"
            ))
            continue
        seen[key] = line
        locations.append(result)
    return ParsedCsv(locations, problems)


def _parse_row(fields: list[str], index: dict[str, int], zones: set[str]) -> NewLocation | str:
    """A NewLocation, or the reason the row is rejected."""
    name = fields[index["name"]].strip()
    if not name:
        return "missing field 'name'"
    if len(name) > MAX_NAME_LENGTH:
        return f"name longer than {MAX_NAME_LENGTH} characters"
    coords: dict[str, float] = {}
    for field, bound in (("latitude", 90.0), ("longitude", 180.0)):
        raw = fields[index[field]].strip()
        if not raw:
            return f"missing field {field!r}"
        try:
            value = float(raw)
        except ValueError:
            return f"{field} {raw!r} is not a number"
        if not math.isfinite(value) or not -bound <= value <= bound:
            return f"{field} {raw!r} out of range [-{bound:g}, {bound:g}]"
        coords[field] = value
    country = fields[index["country_code"]].strip().upper() if "country_code" in index else ""
    if country and (len(country) != 2 or not country.isalpha()):
        return f"country_code {country!r} is not a two-letter ISO code"
    zone = fields[index["timezone"]].strip() if "timezone" in index else ""
    if zone and zone not in zones:
        return f"timezone {zone!r} is not an IANA time zone"
    return NewLocation(
        name=name, latitude=coords["latitude"], longitude=coords["longitude"],
        country_code=country, timezone=zone or "UTC",
    )
