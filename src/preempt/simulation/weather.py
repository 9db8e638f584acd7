"""Synthetic, physically plausible weather as a pure function of (latitude, longitude, time, seed).

Every value is computed from stateless hashed noise, so a timestamp has the same value whatever
window it is requested in. Units are Open-Meteo's defaults: °C, %, mm, km/h.

Model, per location (climate constants are hashed from the rounded coordinates):
- temperature: latitude-dependent annual mean and seasonal swing (hemisphere-aware, coldest
  around 20 January in the north), lapse rate with a synthetic elevation, a diurnal cycle on
  local solar time damped by rain, slow warm/cold spells and fronts that travel east over days;
- relative humidity: a climate baseline that moves against the temperature cycle and rises
  ahead of and during rain; dew point from T and RH with the Magnus formula;
- precipitation: rain events from a travelling field, piecewise constant per 15 minutes, so an
  hourly value is exactly the sum of its four 15-minute values ("preceding step" sums);
- wind: a per-location base, windy regimes, a peak at front passages, gusty short-term noise.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from preempt.simulation.noise import (
    F64,
    U64,
    as_u64,
    hashed_index,
    key,
    mix,
    signed,
    unit,
    value_noise_1d,
    value_noise_2d,
)

METRICS: tuple[str, ...] = (
    "temperature_2m",
    "relative_humidity_2m",
    "dew_point_2m",
    "precipitation",
    "wind_speed_10m",
    "wind_gusts_10m",
)

QUARTER_S = 900
_YEAR_D = 365.2425
_BETA = 17.625
_LAMBDA = 243.04

# Salts: one independent noise stream per model component.
_CLIMATE, _FRONT, _SPELL, _RAIN, _WIND, _GUST, _JITTER, _ELEV, _BURST = range(1, 10)


def location_key(latitude: npt.ArrayLike, longitude: npt.ArrayLike) -> U64:
    """A 64-bit key of coordinates rounded to 1e-4 degrees (about 11 m)."""
    qlat = np.rint((np.asarray(latitude, dtype=np.float64) + 90.0) * 1e4).astype(np.int64)
    qlon = np.rint((np.asarray(longitude, dtype=np.float64) + 180.0) * 1e4).astype(np.int64)
    return mix(as_u64(qlat * 4_000_000 + qlon) + np.uint64(0x632BE59BD9B4E019))


def dew_point_c(temperature_c: npt.ArrayLike, humidity_pct: npt.ArrayLike) -> F64:
    """Dew point (°C) from temperature (°C) and relative humidity (%), Magnus β=17.625 λ=243.04."""
    t = np.asarray(temperature_c, dtype=np.float64)
    rh = np.clip(np.asarray(humidity_pct, dtype=np.float64), 0.5, 100.0)
    gamma = np.log(rh / 100.0) + _BETA * t / (_LAMBDA + t)
    return np.asarray(_LAMBDA * gamma / (_BETA - gamma), dtype=np.float64)


def relative_humidity_pct(temperature_c: npt.ArrayLike, dew_point: npt.ArrayLike) -> F64:
    """Relative humidity (%) from temperature and dew point (°C), Magnus, clamped to [0, 100]."""
    t = np.asarray(temperature_c, dtype=np.float64)
    td = np.asarray(dew_point, dtype=np.float64)
    rh = 100.0 * np.exp(_BETA * td / (_LAMBDA + td) - _BETA * t / (_LAMBDA + t))
    return np.asarray(np.clip(rh, 0.0, 100.0), dtype=np.float64)


def elevation_m(latitude: npt.ArrayLike, longitude: npt.ArrayLike, *, seed: int = 0) -> F64:
    """Synthetic terrain height (m, 0..2500) of a location: mostly low, some mountain towns."""
    u = unit(mix(location_key(latitude, longitude) ^ key(seed, _ELEV)))
    return np.asarray(np.round(2500.0 * u**4, 0), dtype=np.float64)


def simulate_weather(
    latitude: npt.ArrayLike,
    longitude: npt.ArrayLike,
    times: npt.ArrayLike,
    *,
    seed: int = 0,
    step_s: int = 3600,
) -> dict[str, F64]:
    """Weather for every location × time: each metric an array of shape (n_locations, n_times).

    latitude/longitude: 1-D degrees; times: 1-D epoch seconds (UTC), any spacing; step_s: the
    accumulation interval of `precipitation` ending at each time (3600 hourly, 900 for
    current/minutely_15, 300 for 5-minute data). Other metrics are instantaneous.
    """
    lat = np.asarray(latitude, dtype=np.float64).reshape(-1, 1)
    lon = np.asarray(longitude, dtype=np.float64).reshape(-1, 1)
    t = np.asarray(times, dtype=np.float64).reshape(1, -1)
    return _fields(lat, lon, t, seed=seed, step_s=step_s)


def simulate_points(
    latitude: npt.ArrayLike,
    longitude: npt.ArrayLike,
    times: npt.ArrayLike,
    *,
    seed: int = 0,
    step_s: int = 3600,
) -> dict[str, F64]:
    """Weather at paired points: latitude[i], longitude[i], times[i] -> metric[i] (1-D arrays)."""
    lat = np.asarray(latitude, dtype=np.float64).reshape(-1)
    lon = np.asarray(longitude, dtype=np.float64).reshape(-1)
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    return _fields(lat, lon, t, seed=seed, step_s=step_s)


def _climate(loc: U64, seed: int, n: int) -> list[F64]:
    base = loc ^ key(seed, _CLIMATE)
    return [signed(hashed_index(base, i + 1)) for i in range(n)]


def _front(lat: F64, lon: F64, days: F64, seed: int) -> F64:
    """Fronts: a field moving east ~8°/day; tanh turns its zero crossings into sharp steps."""
    field = value_noise_2d(key(seed, _FRONT), lat / 12.0, (days - lon / 8.0) / 2.5)
    return np.asarray(np.tanh(6.0 * field), dtype=np.float64)


def _rain_field(lat: F64, lon: F64, t: F64, loc: U64, seed: int) -> F64:
    """Rain potential in about [-1, 1.3]: travelling systems plus local showers."""
    days = t / 86400.0
    systems = value_noise_2d(key(seed, _RAIN), lat / 6.0, (days - lon / 8.0) / 1.1)
    showers = value_noise_1d(loc ^ key(seed, _RAIN), t / 10800.0)
    return np.asarray(systems + 0.35 * showers, dtype=np.float64)


def _rain_rate_mmh(
    lat: F64, lon: F64, t_mid: F64, loc: U64, seed: int, threshold: F64, intensity: F64
) -> F64:
    """Rain rate (mm/h) constant over each 15-minute quarter, evaluated at its midpoint."""
    field = _rain_field(lat, lon, t_mid, loc, seed)
    excess = np.maximum(field - threshold, 0.0)
    quarter = np.floor(t_mid / QUARTER_S).astype(np.int64)
    burst = unit(hashed_index(loc ^ key(seed, _BURST), quarter))
    boost = np.where(burst > 0.985, 4.0, 1.0)
    return np.asarray(excess * intensity * boost, dtype=np.float64)


def _precipitation(
    lat: F64, lon: F64, t: F64, loc: U64, seed: int, step_s: int, threshold: F64, intensity: F64
) -> F64:
    """Sum (mm) over the step ending at t, from the piecewise-constant 15-minute rain rate."""
    if step_s <= QUARTER_S:
        start = np.floor((t - step_s / 2.0) / QUARTER_S) * QUARTER_S
        rate = _rain_rate_mmh(lat, lon, start + QUARTER_S / 2, loc, seed, threshold, intensity)
        return np.asarray(rate * (step_s / 3600.0), dtype=np.float64)
    end = np.floor(t / QUARTER_S) * QUARTER_S
    total = np.zeros(np.broadcast_shapes(lat.shape, t.shape), dtype=np.float64)
    for q in range(step_s // QUARTER_S):
        mid = end - (q + 0.5) * QUARTER_S
        total += _rain_rate_mmh(lat, lon, mid, loc, seed, threshold, intensity) * 0.25
    return total


def _fields(lat: F64, lon: F64, t: F64, *, seed: int, step_s: int) -> dict[str, F64]:
    loc = location_key(lat, lon)
    c = _climate(loc, seed, 8)
    days = t / 86400.0
    phi = np.deg2rad(lat)
    elevation = elevation_m(lat, lon, seed=seed)

    # Climate: annual mean (°C) and half the seasonal range, continentality from the hash.
    annual = 32.0 * np.cos(phi) ** 2 - 6.0 + 2.5 * c[0] - 0.0065 * elevation
    swing = (0.5 + 0.3 * np.abs(lat)) * (0.85 + 0.25 * c[1])
    day_of_year = np.mod(days, _YEAR_D)
    season = -np.cos(2.0 * np.pi * (day_of_year - 20.0) / _YEAR_D) * np.sign(lat)
    local_hour = np.mod(t / 3600.0 + lon / 15.0, 24.0)
    diurnal = np.cos(2.0 * np.pi * (local_hour - 15.0) / 24.0)

    front = _front(lat, lon, days, seed)
    spell = value_noise_2d(key(seed, _SPELL), lat / 20.0, (days - lon / 10.0) / 5.0)
    dryness = 0.5 + 0.5 * c[2]  # 0 wet climate .. 1 desert
    threshold = 0.3 + 0.45 * dryness
    intensity = 10.0 + 6.0 * c[3]
    rain_now = _rain_field(lat, lon, t, loc, seed)
    wet = np.clip((rain_now - threshold + 0.2) / 0.35, 0.0, 1.0)

    jitter = value_noise_1d(loc ^ key(seed, _JITTER), t / 7200.0)
    diurnal_amp = (5.0 + 1.5 * c[4] + 2.0 * dryness) * (1.0 - 0.6 * wet)
    temperature = (
        annual
        + swing * season
        + diurnal_amp * diurnal
        + 3.5 * front
        + 4.5 * spell
        - 2.0 * wet
        + 0.6 * jitter
    )

    rh_base = 72.0 - 32.0 * dryness + 5.0 * c[5]
    humidity = (
        rh_base
        - 2.6 * diurnal_amp * diurnal
        - 4.0 * front
        - 3.0 * spell
        + 30.0 * wet
        + 4.0 * jitter
    )
    humidity = np.clip(humidity, 4.0, 100.0)
    dew = np.minimum(dew_point_c(temperature, humidity), temperature)

    precipitation = _precipitation(lat, lon, t, loc, seed, step_s, threshold, intensity)

    regime = value_noise_2d(key(seed, _WIND), lat / 10.0, (days - lon / 8.0) / 1.5)
    base = 10.0 + 4.5 * c[6]
    gust_noise = value_noise_1d(loc ^ key(seed, _GUST), t / 1200.0)
    gustiness = 0.15 + 0.15 * (regime + 1.0)
    wind = (
        base * np.exp(0.55 * regime) * (1.0 + 0.25 * diurnal) + 14.0 * (1.0 - front**2) + 8.0 * wet
    ) * (1.0 + gustiness * gust_noise)
    wind = np.clip(wind, 0.0, 160.0)
    gusts = np.clip(wind * (1.35 + gustiness + 0.2 * np.abs(gust_noise)), wind, 250.0)

    shape = np.broadcast_shapes(lat.shape, t.shape)
    return {
        "temperature_2m": np.broadcast_to(temperature, shape).astype(np.float64),
        "relative_humidity_2m": np.broadcast_to(humidity, shape).astype(np.float64),
        "dew_point_2m": np.broadcast_to(dew, shape).astype(np.float64),
        "precipitation": np.broadcast_to(precipitation, shape).astype(np.float64),
        "wind_speed_10m": np.broadcast_to(wind, shape).astype(np.float64),
        "wind_gusts_10m": np.broadcast_to(gusts, shape).astype(np.float64),
    }
