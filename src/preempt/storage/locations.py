"""Location rows: bulk idempotent import, look-ups by name or id, and the API's single edits."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from preempt.domain import Location, NewLocation
from preempt.storage.tables import alarm_suggestions, anomalies, locations, metrics
from preempt.storage.upsert import upsert_rows


def insert_locations(conn: Connection, new: Sequence[NewLocation]) -> int:
    """Insert the locations whose names are not present yet; returns how many were added."""
    before = count_locations(conn)
    rows = [
        {"name": loc.name, "latitude": loc.latitude, "longitude": loc.longitude,
         "country_code": loc.country_code, "timezone": loc.timezone}
        for loc in new
    ]
    upsert_rows(conn, locations, rows, key=["name"])
    return count_locations(conn) - before


def count_locations(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(locations)).scalar_one())


def list_locations(conn: Connection) -> list[Location]:
    return [_location(row) for row in conn.execute(
        sa.select(locations).order_by(locations.c.id)
    )]


def get_location_by_name(conn: Connection, name: str) -> Location | None:
    row = conn.execute(sa.select(locations).where(locations.c.name == name)).first()
    return _location(row) if row else None


def _location(row: Row[tuple[object, ...]]) -> Location:
    m = row._mapping
    return Location(
        id=int(m["id"]), name=str(m["name"]), latitude=float(m["latitude"]),
        longitude=float(m["longitude"]), country_code=str(m["country_code"]),
        timezone=str(m["timezone"]),
    )


def get_location(conn: Connection, location_id: int) -> Location | None:
    row = conn.execute(sa.select(locations).where(locations.c.id == location_id)).first()
    return _location(row) if row else None


def create_location(conn: Connection, new: NewLocation) -> Location | None:
    """Insert one location; None when the name is taken (the caller says 409)."""
    exists = get_location_by_name(conn, new.name)
    if exists is not None:
        return None
    try:
        with conn.begin_nested():
            conn.execute(locations.insert().values(
                name=new.name, latitude=new.latitude, longitude=new.longitude,
                country_code=new.country_code, timezone=new.timezone,
            ))
    except sa.exc.IntegrityError:
        return None  # a concurrent insert of the same name won
    return get_location_by_name(conn, new.name)


def update_location(conn: Connection, location_id: int, new: NewLocation) -> Location | None:
    """Replace a location's fields; None when the id is unknown. IntegrityError: name taken."""
    conn.execute(locations.update().where(locations.c.id == location_id).values(
        name=new.name, latitude=new.latitude, longitude=new.longitude,
        country_code=new.country_code, timezone=new.timezone,
    ))
    return get_location(conn, location_id)


def delete_location(conn: Connection, location_id: int, *, keep_data: bool) -> dict[str, int]:
    """Delete a location; with keep_data=False also its samples, anomalies and suggestions.

    Returns rows deleted per table. Kept data stays under the old location_id (orphaned, not
    listed by the API) so that it can be re-attached or exported.
    """
    deleted: dict[str, int] = {}
    if not keep_data:
        for table in (metrics, anomalies, alarm_suggestions):
            result = conn.execute(table.delete().where(table.c.location_id == location_id))
            deleted[table.name] = int(result.rowcount or 0)
    result = conn.execute(locations.delete().where(locations.c.id == location_id))
    deleted["locations"] = int(result.rowcount or 0)
    return deleted
