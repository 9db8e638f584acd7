"""Forecast request parameters: decoded from GET/POST data and checked in the order and with the
error texts of the real server; time windows computed as the server does (see OPEN_METEO.md §2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from preempt.openmeteo.weights import location_weight
from preempt.simulation import METRICS

HOUR = 3600
QUARTER = 900
DAY = 86400
MAX_PAST_DAYS = 93
MAX_FORECAST_DAYS = 16

# Variables the emulator knows. Simulated ones carry data; the others are real Open-Meteo names
# that this "model" lacks: unit "undefined" and null values, as the real API does.
UNIT_KIND: dict[str, str] = {
    "temperature_2m": "temperature",
    "relative_humidity_2m": "percent",
    "dew_point_2m": "temperature",
    "precipitation": "precipitation",
    "wind_speed_10m": "wind",
    "wind_gusts_10m": "wind",
}
OTHER_VARIABLES: frozenset[str] = frozenset(
    {
        "apparent_temperature",
        "pressure_msl",
        "surface_pressure",
        "cloud_cover",
        "cloud_cover_low",
        "cloud_cover_mid",
        "cloud_cover_high",
        "wind_direction_10m",
        "wind_speed_80m",
        "wind_speed_120m",
        "wind_direction_80m",
        "rain",
        "showers",
        "snowfall",
        "snow_depth",
        "weather_code",
        "visibility",
        "is_day",
        "cape",
        "evapotranspiration",
        "et0_fao_evapotranspiration",
        "vapour_pressure_deficit",
        "precipitation_probability",
        "shortwave_radiation",
        "direct_radiation",
        "diffuse_radiation",
        "sunshine_duration",
        "soil_temperature_0cm",
        "soil_moisture_0_to_1cm",
        "freezing_level_height",
        "uv_index",
        "temperature_80m",
    }
)
KNOWN_VARIABLES = frozenset(METRICS) | OTHER_VARIABLES
DAILY_VARIABLES = frozenset(
    {
        "temperature_2m_max",
        "temperature_2m_min",
        "precipitation_sum",
        "wind_speed_10m_max",
        "wind_gusts_10m_max",
        "weather_code",
        "sunrise",
        "sunset",
        "rain_sum",
        "precipitation_hours",
        "relative_humidity_2m_mean",
        "dew_point_2m_mean",
    }
)
MODELS = frozenset(
    {
        "best_match",
        "ecmwf_ifs025",
        "icon_seamless",
        "gfs_seamless",
        "meteofrance_seamless",
        "ecmwf_ifs04",
        "jma_seamless",
        "gem_seamless",
        "ukmo_seamless",
    }
)
_ENUMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "temperature_unit": ("TemperatureUnit", ("celsius", "fahrenheit")),
    "wind_speed_unit": ("WindspeedUnit", ("kmh", "ms", "mph", "kn")),
    "windspeed_unit": ("WindspeedUnit", ("kmh", "ms", "mph", "kn")),
    "precipitation_unit": ("PrecipitationUnit", ("mm", "inch")),
    "timeformat": ("Timeformat", ("iso8601", "unixtime")),
    "cell_selection": ("CellSelectionType", ("land", "sea", "nearest")),
    "format": ("ForecastResultFormat", ("json",)),
}


class QueryError(Exception):
    """A parameter error: HTTP 400 with {"error": true, "reason": str(exc)}."""


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    abbreviation: str
    offset_s: int


@dataclass(frozen=True, slots=True)
class ForecastQuery:
    latitudes: tuple[float, ...]
    longitudes: tuple[float, ...]
    elevations: tuple[float, ...] | None
    hourly: tuple[str, ...]
    current: tuple[str, ...]
    minutely_15: tuple[str, ...]
    daily: tuple[str, ...]
    models: tuple[str, ...]
    temperature_unit: str
    wind_speed_unit: str
    precipitation_unit: str
    timeformat: str
    timezones: tuple[str, ...]
    past_days: int
    forecast_days: int
    past_hours: int | None
    forecast_hours: int | None
    past_minutely_15: int | None
    forecast_minutely_15: int | None
    start_date: date | None
    end_date: date | None

    @property
    def n_locations(self) -> int:
        return len(self.latitudes)

    @property
    def n_variables(self) -> int:
        return len(self.hourly) + len(self.current) + len(self.minutely_15) + len(self.daily)


def collect_params(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Repeated keys and comma lists both become one list per key (empty items dropped)."""
    params: dict[str, list[str]] = {}
    for name, raw in pairs:
        items = [item.strip() for item in raw.split(",")]
        params.setdefault(name, []).extend(item for item in items if item)
    return params


def params_from_json(body: Mapping[str, object]) -> dict[str, list[str]]:
    """A JSON POST body: numbers, strings or lists of them."""
    pairs: list[tuple[str, str]] = []
    for name, value in body.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, bool):
                pairs.append((name, "true" if item else "false"))
            elif item is not None:
                pairs.append((name, str(item)))
    return collect_params(pairs)


def parse_query(
    params: Mapping[str, list[str]], *, today: date, max_locations: int
) -> ForecastQuery:
    """Decode and validate; raises QueryError with the real server's text on the first problem."""
    # 1. decoding: enums, numbers, dates
    enums = {name: _enum(params, name, choices) for name, choices in _ENUMS.items()}
    wind_unit = enums["wind_speed_unit"] if "wind_speed_unit" in params else enums["windspeed_unit"]
    latitudes = _floats(params, "latitude")
    longitudes = _floats(params, "longitude")
    elevations = _floats(params, "elevation") if "elevation" in params else None
    past_days = _int(params, "past_days")
    forecast_days = _int(params, "forecast_days")
    past_hours = _int(params, "past_hours")
    forecast_hours = _int(params, "forecast_hours")
    past_m15 = _int(params, "past_minutely_15")
    forecast_m15 = _int(params, "forecast_minutely_15")
    start_date = _date(params, "start_date")
    end_date = _date(params, "end_date")
    # 2. models, then variable names
    models = tuple(params.get("models", ["best_match"]))
    for model in models:
        if model not in MODELS:
            raise QueryError(
                f"Data corrupted at path ''. Cannot initialize MultiDomains from invalid "
                f"String value {model}."
            )
    hourly = _variables(params, "hourly", KNOWN_VARIABLES, "ForecastVariable")
    current = _variables(params, "current", KNOWN_VARIABLES, "ForecastVariable")
    minutely = _variables(params, "minutely_15", KNOWN_VARIABLES, "ForecastVariable")
    daily = _variables(params, "daily", DAILY_VARIABLES, "ForecastVariableDaily")
    # 3. explicit dates exclude past_/forecast_ counts
    if start_date is not None or end_date is not None:
        counts = {
            "past_days": past_days,
            "forecast_days": forecast_days,
            "past_hours": past_hours,
            "forecast_hours": forecast_hours,
        }
        for name, value in counts.items():
            if value:
                raise QueryError(
                    f"Parameter '{name}' is mutually exclusive with 'start_date' and 'end_date'"
                )
        if start_date is None or end_date is None:
            raise QueryError("Parameter 'start_date' and 'end_date' must be set together")
    # 4. list lengths, then ranges
    if len(latitudes) != len(longitudes) or not latitudes:
        raise QueryError(
            "Parameter 'latitude' and 'longitude' must have the same number of elements"
        )
    if elevations is not None and len(elevations) != len(latitudes):
        raise QueryError(
            "Parameter 'elevation' must have the same number of elements as coordinates"
        )
    for lat in latitudes:
        if not -90.0 <= lat <= 90.0:
            raise QueryError(f"Latitude must be in range of -90 to 90°. Given: {lat}.")
    for lon in longitudes:
        if not -180.0 <= lon <= 180.0:
            raise QueryError(f"Longitude must be in range of -180 to 180°. Given: {lon}.")
    # 5. timezone
    timezones = tuple(params.get("timezone", ["GMT"]))
    if len(timezones) not in (1, len(latitudes)):
        raise QueryError(
            "Parameter 'timezone' and coordinates must have the same number of elements"
        )
    for name in timezones:
        if name != "auto":
            resolve_zone(name, 0.0, now_s=0)
    # 6. number of locations
    if len(latitudes) > max_locations:
        raise QueryError(f"Only up to {max_locations} locations can be requested at once")
    # 7. day counts and date range
    past = past_days or 0
    forecast = 7 if forecast_days is None else forecast_days
    if not 0 <= past <= MAX_PAST_DAYS:
        raise QueryError(f"Past days is invalid. Allowed range 0 to {MAX_PAST_DAYS}. Given {past}.")
    if not 0 <= forecast <= MAX_FORECAST_DAYS:
        raise QueryError(
            f"Forecast days is invalid. Allowed range 0 to {MAX_FORECAST_DAYS}. "
            f"Given {MAX_FORECAST_DAYS}."
        )
    for name, value in (
        ("past_hours", past_hours),
        ("forecast_hours", forecast_hours),
        ("past_minutely_15", past_m15),
        ("forecast_minutely_15", forecast_m15),
    ):
        if value is not None and value < 0:
            raise QueryError(f"Parameter '{name}' must not be negative. Given {value}.")
    if start_date is not None and end_date is not None:
        if end_date < start_date:
            raise QueryError("End-date must be larger or equals than start-date")
        first = date.fromordinal(today.toordinal() - MAX_PAST_DAYS)
        last = date.fromordinal(today.toordinal() + MAX_FORECAST_DAYS)
        for name, day in (("start_date", start_date), ("end_date", end_date)):
            if not first <= day <= last:
                raise QueryError(
                    f"Parameter '{name}' is out of allowed range from {first} to {last}"
                )
    return ForecastQuery(
        latitudes=tuple(latitudes),
        longitudes=tuple(longitudes),
        elevations=tuple(elevations) if elevations is not None else None,
        hourly=hourly,
        current=current,
        minutely_15=minutely,
        daily=daily,
        models=models,
        temperature_unit=enums["temperature_unit"],
        wind_speed_unit=wind_unit,
        precipitation_unit=enums["precipitation_unit"],
        timeformat=enums["timeformat"],
        timezones=timezones,
        past_days=past,
        forecast_days=forecast,
        past_hours=past_hours,
        forecast_hours=forecast_hours,
        past_minutely_15=past_m15,
        forecast_minutely_15=forecast_m15,
        start_date=start_date,
        end_date=end_date,
    )


def resolve_zone(name: str, longitude: float, *, now_s: int) -> Zone:
    """GMT/UTC, an IANA name (offset as of now, fixed for the whole response) or `auto`.

    `auto` has no coordinate-to-zone database here: it picks the nautical zone of the
    longitude (Etc/GMT∓h), which keeps whole-hour offsets.
    """
    if name in ("GMT", "UTC", "Etc/UTC", "Etc/GMT"):
        return Zone("GMT", "GMT", 0)
    if name == "auto":
        hours = round(longitude / 15.0)
        if hours == 0:
            return Zone("GMT", "GMT", 0)
        return Zone(f"Etc/GMT{-hours:+d}", _abbreviation(hours * HOUR), hours * HOUR)
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise QueryError("Invalid timezone") from exc
    offset = datetime.fromtimestamp(now_s, UTC).astimezone(zone).utcoffset()
    offset_s = int(offset.total_seconds()) if offset is not None else 0
    return Zone(name, _abbreviation(offset_s), offset_s)


def _abbreviation(offset_s: int) -> str:
    if offset_s == 0:
        return "GMT"
    sign = "+" if offset_s > 0 else "-"
    hours, rest = divmod(abs(offset_s), HOUR)
    return f"GMT{sign}{hours}" + (f":{rest // 60:02d}" if rest else "")


@dataclass(frozen=True, slots=True)
class Window:
    """start_s (epoch UTC), n steps of step_s seconds."""

    start_s: int
    n: int
    step_s: int

    def times(self) -> list[int]:
        return [self.start_s + i * self.step_s for i in range(self.n)]


def hourly_window(q: ForecastQuery, *, now_s: int, offset_s: int) -> Window:
    if q.start_date is not None and q.end_date is not None:
        start = _local_midnight(q.start_date, offset_s)
        end = _local_midnight(q.end_date, offset_s) + DAY
        return Window(start, (end - start) // HOUR, HOUR)
    if q.past_hours is not None or q.forecast_hours is not None:
        past = q.past_hours or 0
        # Server quirk: with only past_hours, the forecast part defaults to 16 days.
        forecast = q.forecast_hours if q.forecast_hours is not None else 16 * 24
        return Window(now_s // HOUR * HOUR - past * HOUR, past + forecast, HOUR)
    midnight = (now_s + offset_s) // DAY * DAY - offset_s
    return Window(midnight - q.past_days * DAY, 24 * (q.past_days + q.forecast_days), HOUR)


def daily_window(q: ForecastQuery, *, now_s: int, offset_s: int) -> Window:
    """Whole local days: start/end dates, else past_days before today plus forecast_days."""
    if q.start_date is not None and q.end_date is not None:
        start = _local_midnight(q.start_date, offset_s)
        return Window(start, (_local_midnight(q.end_date, offset_s) + DAY - start) // DAY, DAY)
    midnight = (now_s + offset_s) // DAY * DAY - offset_s
    return Window(midnight - q.past_days * DAY, q.past_days + q.forecast_days, DAY)


def minutely_window(q: ForecastQuery, *, now_s: int, offset_s: int) -> Window:
    if q.past_minutely_15 is not None or q.forecast_minutely_15 is not None:
        past = q.past_minutely_15 or 0
        forecast = q.forecast_minutely_15 if q.forecast_minutely_15 is not None else 3 * 96
        return Window(now_s // QUARTER * QUARTER - past * QUARTER, past + forecast, QUARTER)
    hourly = hourly_window(q, now_s=now_s, offset_s=offset_s)
    return Window(hourly.start_s, hourly.n * 4, QUARTER)


def current_time(now_s: int) -> int:
    return now_s // QUARTER * QUARTER


def query_weight(q: ForecastQuery, *, now_s: int) -> float:
    """What the server adds to the client's counters for this request."""
    days = hourly_window(q, now_s=now_s, offset_s=0).n * HOUR // DAY
    per_location = location_weight(q.n_variables, days, n_models=len(q.models))
    return per_location * q.n_locations


def _local_midnight(day: date, offset_s: int) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) - offset_s


def _decoding(type_name: str, value: str) -> QueryError:
    return QueryError(
        f"Data corrupted at path ''. Cannot initialize {type_name} from invalid String value "
        f"{value}."
    )


def _enum(params: Mapping[str, list[str]], name: str, choices: tuple[str, tuple[str, ...]]) -> str:
    type_name, allowed = choices
    values = params.get(name)
    if not values:
        return allowed[0]
    if values[0] not in allowed:
        raise _decoding(type_name, values[0])
    return values[0]


def _floats(params: Mapping[str, list[str]], name: str) -> list[float]:
    out: list[float] = []
    for raw in params.get(name, []):
        try:
            value = float(raw)
        except ValueError as exc:
            raise _decoding("Float", raw) from exc
        if name != "elevation" and not math.isfinite(value):
            raise _decoding("Float", raw)
        out.append(value)
    return out


def _int(params: Mapping[str, list[str]], name: str) -> int | None:
    values = params.get(name)
    if not values:
        return None
    try:
        return int(values[0])
    except ValueError as exc:
        raise _decoding("Int", values[0]) from exc


def _date(params: Mapping[str, list[str]], name: str) -> date | None:
    values = params.get(name)
    if not values:
        return None
    try:
        return date.fromisoformat(values[0])
    except ValueError as exc:
        raise QueryError(
            f"Invalid date format. Make sure to use 'YYYY-MM-DD' ({values[0]})"
        ) from exc


def _variables(
    params: Mapping[str, list[str]], name: str, known: frozenset[str], type_name: str
) -> tuple[str, ...]:
    values = params.get(name, [])
    for value in values:
        if value not in known:
            raise _decoding(type_name, value)
    return tuple(dict.fromkeys(values))
