"""GET/POST/PUT/DELETE /locations: the monitored places (SEED.md's list, plus management)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from sqlalchemy.engine import Connection

from preempt.api.context import read_conn, require_location, write_conn
from preempt.api.schemas import LocationDeleted, LocationIn, LocationList, LocationOut
from preempt.api.security import Principal, require_admin
from preempt.domain import Location, NewLocation
from preempt.storage import locations as store

read_router = APIRouter(tags=["locations"])
write_router = APIRouter(tags=["locations"])

NamePath = Path(min_length=1, max_length=200, description="The location's name.")


def location_out(loc: Location) -> LocationOut:
    return LocationOut(id=loc.id, name=loc.name, latitude=loc.latitude,
                       longitude=loc.longitude, country_code=loc.country_code,
                       timezone=loc.timezone)


def _new(body: LocationIn) -> NewLocation:
    return NewLocation(name=body.name, latitude=body.latitude, longitude=body.longitude,
                       country_code=body.country_code.upper(), timezone=body.timezone)


@read_router.get("/locations", response_model=LocationList)
def list_locations(conn: Connection = Depends(read_conn)) -> LocationList:
    """All locations, by id (SEED.md: {"locations": [...], "count": N})."""
    found = [location_out(loc) for loc in store.list_locations(conn)]
    return LocationList(locations=found, count=len(found))


@read_router.get("/locations/{name:path}", response_model=LocationOut)
def get_location(name: str = NamePath, conn: Connection = Depends(read_conn)) -> LocationOut:
    """One location by name."""
    return location_out(require_location(store.get_location_by_name(conn, name), name))


@write_router.post("/locations", response_model=LocationOut, status_code=201)
def create_location(
    body: LocationIn,
    response: Response,
    _who: Principal = Depends(require_admin),
    conn: Connection = Depends(write_conn),
) -> LocationOut:
    """Add a location (admin); collect fetches its 7-day history on its next cycle."""
    created = store.create_location(conn, _new(body))
    if created is None:
        raise HTTPException(409, detail=f"location {body.name!r} already exists")
    response.headers["Location"] = f"/locations/{quote(created.name, safe='')}"
    return location_out(created)


@write_router.put("/locations/{name:path}", response_model=LocationOut)
def replace_location(
    body: LocationIn,
    name: str = NamePath,
    _who: Principal = Depends(require_admin),
    conn: Connection = Depends(write_conn),
) -> LocationOut:
    """Replace a location's name, coordinates, country and time zone (admin)."""
    current = require_location(store.get_location_by_name(conn, name), name)
    if body.name != name and store.get_location_by_name(conn, body.name) is not None:
        raise HTTPException(409, detail=f"location {body.name!r} already exists")
    try:
        with conn.begin_nested():
            updated = store.update_location(conn, current.id, _new(body))
    except sa.exc.IntegrityError as exc:
        raise HTTPException(409, detail=f"location {body.name!r} already exists") from exc
    return location_out(require_location(updated, name))


@write_router.delete("/locations/{name:path}", response_model=LocationDeleted)
def delete_location(
    name: str = NamePath,
    data: Literal["keep", "delete"] = Query(
        "keep", description="keep: samples, anomalies and suggestions stay stored; "
        "delete: they are removed with the location."
    ),
    _who: Principal = Depends(require_admin),
    conn: Connection = Depends(write_conn),
) -> LocationDeleted:
    """Stop monitoring a location (admin), keeping or deleting its data."""
    current = require_location(store.get_location_by_name(conn, name), name)
    deleted = store.delete_location(conn, current.id, keep_data=data == "keep")
    return LocationDeleted(name=name, data="kept" if data == "keep" else "deleted",
                           deleted_rows=deleted)
