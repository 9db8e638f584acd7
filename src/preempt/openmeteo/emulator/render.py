"""Forecast bodies: simulated (and optionally anomalous) weather shaped like the real JSON.

Per location, keys in the server's order: latitude, longitude (of the grid cell, float32
printed), generationtime_ms, utc_offset_seconds, timezone, timezone_abbreviation, elevation,
location_id (only when != 0), current_units/current, minutely_15_units/minutely_15,
hourly_units/hourly, daily_units/daily. Values are rounded to the unit's decimals; missing
values are null.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from preempt.openmeteo.emulator.query import (
    DAY,
    HOUR,
    QUARTER,
    UNIT_KIND,
    ForecastQuery,
    Window,
    Zone,
    current_time,
    daily_window,
    hourly_window,
    minutely_window,
    resolve_zone,
)
from preempt.simulation import (
    AnomalyConfig,
    elevation_m,
    inject_anomalies,
    simulate_weather,
)

F64 = npt.NDArray[np.float64]

# unit kind -> option -> (unit string, decimals, factor from our native unit, offset)
_UNITS: dict[str, dict[str, tuple[str, int, float, float]]] = {
    "temperature": {"celsius": ("°C", 1, 1.0, 0.0), "fahrenheit": ("°F", 1, 1.8, 32.0)},
    "percent": {"": ("%", 0, 1.0, 0.0)},
    "precipitation": {"mm": ("mm", 2, 1.0, 0.0), "inch": ("inch", 3, 1 / 25.4, 0.0)},
    "wind": {
        "kmh": ("km/h", 1, 1.0, 0.0),
        "ms": ("m/s", 2, 1 / 3.6, 0.0),
        "mph": ("mp/h", 1, 2.237 / 3.6, 0.0),
        "kn": ("kn", 1, 1.94384 / 3.6, 0.0),
    },
}
# daily variable -> (hourly source, reduction)
_DAILY: dict[str, tuple[str, str]] = {
    "temperature_2m_max": ("temperature_2m", "max"),
    "temperature_2m_min": ("temperature_2m", "min"),
    "precipitation_sum": ("precipitation", "sum"),
    "wind_speed_10m_max": ("wind_speed_10m", "max"),
    "wind_gusts_10m_max": ("wind_gusts_10m", "max"),
    "relative_humidity_2m_mean": ("relative_humidity_2m", "mean"),
    "dew_point_2m_mean": ("dew_point_2m", "mean"),
}


@dataclass(frozen=True, slots=True)
class SimSettings:
    """What the emulator simulates: weather seed, anomaly injection, grid cell size."""

    seed: int = 0
    anomalies: AnomalyConfig = field(default_factory=lambda: AnomalyConfig(rate_per_day=0.0))
    grid_deg: float = 0.1


def snap_to_grid(
    latitudes: npt.ArrayLike, longitudes: npt.ArrayLike, grid_deg: float
) -> tuple[F64, F64]:
    """Centre of the grid cell holding each point, as float32 values widened to float64."""
    step = np.float32(grid_deg)
    half = np.float32(grid_deg / 2)
    lat = np.asarray(latitudes, dtype=np.float64)
    lon = np.asarray(longitudes, dtype=np.float64)
    lat_i = np.clip(np.floor(lat / grid_deg), -90 / grid_deg, 90 / grid_deg - 1)
    lon_i = np.floor(lon / grid_deg)
    lon_i = np.where(lon_i >= 180 / grid_deg, lon_i - 360 / grid_deg, lon_i)
    cell_lat = lat_i.astype(np.float32) * step + half
    cell_lon = lon_i.astype(np.float32) * step + half
    # float32 values printed the way the server prints Swift Floats (shortest repr).
    return _printed(cell_lat), _printed(cell_lon)


def _printed(values: npt.NDArray[np.float32]) -> F64:
    return np.array([float(str(np.float32(v))) for v in values.tolist()], dtype=np.float64)


def unit_of(variable: str, q: ForecastQuery) -> tuple[str, int, float, float] | None:
    kind = UNIT_KIND.get(
        variable.removesuffix("_max")
        .removesuffix("_min")
        .removesuffix("_sum")
        .removesuffix("_mean")
    )
    if kind is None:
        return None
    option = {
        "temperature": q.temperature_unit,
        "percent": "",
        "precipitation": q.precipitation_unit,
        "wind": q.wind_speed_unit,
    }[kind]
    return _UNITS[kind][option]


def render_locations(
    q: ForecastQuery, *, now_s: int, sim: SimSettings
) -> tuple[list[dict[str, Any]], F64, F64]:
    """One JSON-ready dict per requested location (request order) and the cells served."""
    started = time.perf_counter()
    cell_lat, cell_lon = snap_to_grid(q.latitudes, q.longitudes, sim.grid_deg)
    n = q.n_locations
    zones = [
        resolve_zone(q.timezones[i if len(q.timezones) > 1 else 0], q.longitudes[i], now_s=now_s)
        for i in range(n)
    ]
    elevation = (
        np.asarray(q.elevations, dtype=np.float64)
        if q.elevations is not None
        else elevation_m(cell_lat, cell_lon, seed=sim.seed)
    )
    objects: list[dict[str, Any]] = [{} for _ in range(n)]
    groups: dict[int, list[int]] = {}
    for i, zone in enumerate(zones):
        groups.setdefault(zone.offset_s, []).append(i)
    for offset_s, members in groups.items():
        idx = np.asarray(members, dtype=np.intp)
        sections = _sections(q, idx, cell_lat, cell_lon, now_s=now_s, offset_s=offset_s, sim=sim)
        for j, i in enumerate(members):
            objects[i] = _location_object(
                q,
                i,
                zones[i],
                float(cell_lat[i]),
                float(cell_lon[i]),
                float(elevation[i]),
                [(name, units, _row(body, j)) for name, units, body in sections],
            )
    elapsed_ms = (time.perf_counter() - started) * 1000.0 / max(1, n)
    for obj in objects:
        obj["generationtime_ms"] = elapsed_ms
    return objects, cell_lat, cell_lon


def _location_object(
    q: ForecastQuery,
    index: int,
    zone: Zone,
    lat: float,
    lon: float,
    elevation: float,
    sections: list[tuple[str, dict[str, str], dict[str, Any]]],
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "latitude": lat,
        "longitude": lon,
        "generationtime_ms": 0.0,
        "utc_offset_seconds": zone.offset_s,
        "timezone": zone.name,
        "timezone_abbreviation": zone.abbreviation,
    }
    if not np.isnan(elevation):
        obj["elevation"] = elevation
    if index != 0:
        obj["location_id"] = index
    for name, units, body in sections:
        obj[f"{name}_units"] = units
        obj[name] = body
    return obj


def _row(body: dict[str, Any], j: int) -> dict[str, Any]:
    """The j-th location's slice of a section computed for a group of locations."""
    out: dict[str, Any] = {}
    for name, value in body.items():
        if isinstance(value, _PerLocation):
            out[name] = value.row(j)
        else:
            out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class _PerLocation:
    values: npt.NDArray[Any]  # (n_group, n_times) or (n_group,)
    integer: bool

    def row(self, j: int) -> Any:
        row = self.values[j]
        if row.ndim == 0:
            value = float(row)
            if np.isnan(value):
                return None
            return int(value) if self.integer else value
        if self.integer:
            if np.isnan(row).any():
                return [None if np.isnan(v) else int(v) for v in row.tolist()]
            return row.astype(np.int64)
        return row


def _sections(
    q: ForecastQuery,
    idx: npt.NDArray[np.intp],
    cell_lat: F64,
    cell_lon: F64,
    *,
    now_s: int,
    offset_s: int,
    sim: SimSettings,
) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    lat, lon = cell_lat[idx], cell_lon[idx]
    out: list[tuple[str, dict[str, str], dict[str, Any]]] = []
    time_unit = q.timeformat
    if q.current:
        t = np.array([current_time(now_s)], dtype=np.int64)
        values = _simulate(lat, lon, t, QUARTER, sim)
        units: dict[str, str] = {"time": time_unit, "interval": "seconds"}
        body: dict[str, Any] = {"time": _times(t, offset_s, time_unit)[0], "interval": QUARTER}
        for var in q.current:
            unit, column = _column(var, values, q, idx.size, 1)
            units[var] = unit
            body[var] = _PerLocation(column.values[:, 0], column.integer)
        out.append(("current", units, body))
    if q.minutely_15:
        window = minutely_window(q, now_s=now_s, offset_s=offset_s)
        out.append(_series("minutely_15", q.minutely_15, window, lat, lon, q, offset_s, sim))
    if q.hourly:
        window = hourly_window(q, now_s=now_s, offset_s=offset_s)
        out.append(_series("hourly", q.hourly, window, lat, lon, q, offset_s, sim))
    if q.daily:
        out.append(_daily(q, lat, lon, now_s=now_s, offset_s=offset_s, sim=sim))
    return out


def _series(
    name: str,
    variables: tuple[str, ...],
    window: Window,
    lat: F64,
    lon: F64,
    q: ForecastQuery,
    offset_s: int,
    sim: SimSettings,
) -> tuple[str, dict[str, str], dict[str, Any]]:
    t = np.arange(window.n, dtype=np.int64) * window.step_s + window.start_s
    values = _simulate(lat, lon, t, window.step_s, sim)
    units: dict[str, str] = {"time": q.timeformat}
    body: dict[str, Any] = {"time": _times(t, offset_s, q.timeformat)}
    for var in variables:
        unit, column = _column(var, values, q, lat.size, t.size)
        units[var] = unit
        body[var] = column
    return name, units, body


def _daily(
    q: ForecastQuery, lat: F64, lon: F64, *, now_s: int, offset_s: int, sim: SimSettings
) -> tuple[str, dict[str, str], dict[str, Any]]:
    days = daily_window(q, now_s=now_s, offset_s=offset_s)
    first_day = (days.start_s + offset_s) // DAY
    n_days = days.n
    t = (first_day * DAY - offset_s) + HOUR * np.arange(n_days * 24, dtype=np.int64)
    values = _simulate(lat, lon, t, HOUR, sim)
    day_start = np.arange(n_days, dtype=np.int64) * DAY + first_day * DAY
    dates = day_start.astype("datetime64[s]").astype("datetime64[D]").astype(str).tolist()
    units: dict[str, str] = {"time": q.timeformat}
    body: dict[str, Any] = {
        "time": dates if q.timeformat == "iso8601" else (day_start - offset_s).tolist()
    }
    for var in q.daily:
        source = _DAILY.get(var)
        unit = unit_of(var, q)
        if source is None or unit is None or source[0] not in values:
            units[var] = "undefined"
            body[var] = _PerLocation(np.full((lat.size, n_days), np.nan), False)
            continue
        per_day = values[source[0]].reshape(lat.size, n_days, 24)
        reduced = getattr(np, source[1])(per_day, axis=2)
        units[var] = unit[0]
        body[var] = _convert(reduced, unit)
    return "daily", units, body


def _simulate(
    lat: F64, lon: F64, t: npt.NDArray[np.int64], step_s: int, sim: SimSettings
) -> dict[str, F64]:
    values = simulate_weather(lat, lon, t, seed=sim.seed, step_s=step_s)
    if sim.anomalies.rate_per_day > 0:
        values = inject_anomalies(
            lat, lon, t, values, seed=sim.seed, step_s=step_s, config=sim.anomalies
        ).values
    return values


def _column(
    var: str, values: dict[str, F64], q: ForecastQuery, n: int, m: int
) -> tuple[str, _PerLocation]:
    unit = unit_of(var, q)
    if unit is None or var not in values:
        return "undefined", _PerLocation(np.full((n, m), np.nan), False)
    return unit[0], _convert(values[var], unit)


def _convert(native: F64, unit: tuple[str, int, float, float]) -> _PerLocation:
    _, decimals, factor, offset = unit
    converted = native * factor + offset if (factor != 1.0 or offset != 0.0) else native
    return _PerLocation(np.ascontiguousarray(np.round(converted, decimals)), decimals == 0)


def _times(t: npt.NDArray[np.int64], offset_s: int, timeformat: str) -> list[Any]:
    if timeformat == "unixtime":
        return [int(v) for v in t.tolist()]
    local = (t + offset_s).astype("datetime64[s]").astype("datetime64[m]")
    return [str(v) for v in local.astype(str).tolist()]
