"""PURE synthetic weather and labelled anomalies (numpy only: no I/O, no clock, no settings).

Feeds the Open-Meteo emulator and the detection evaluation. Public API:

- simulate_weather(latitude, longitude, times, *, seed=0, step_s=3600) -> dict[metric, array]
    arrays of shape (n_locations, n_times); times are epoch seconds (UTC), any spacing;
    step_s is the accumulation interval of `precipitation` (3600 hourly, 900 for 15-minute
    data, 300 for 5-minute data); other metrics are instantaneous.
- simulate_points(latitude, longitude, times, *, seed=0, step_s=3600) -> dict[metric, array]
    the same at paired points (1-D arrays of equal length).
- AnomalyConfig(rate_per_day=0.05, kinds=ANOMALY_KINDS, metrics=None)
- inject_anomalies(latitude, longitude, times, values, *, seed=0, step_s=3600, config=None)
    -> Injection(values, masks, labels): modified copies, boolean masks (True = labelled
    sample) and a list of AnomalyLabel(location_index, latitude, longitude, metric, kind,
    start_s, end_s, magnitude), end exclusive.
- simulate_with_anomalies(latitude, longitude, times, *, seed=0, step_s=3600, config=None)
- dew_point_c(T, RH), relative_humidity_pct(T, Td): Magnus (β=17.625, λ=243.04 °C)
- elevation_m(latitude, longitude, *, seed=0)
- METRICS (temperature_2m, relative_humidity_2m, dew_point_2m, precipitation,
  wind_speed_10m, wind_gusts_10m), ANOMALY_KINDS.

Determinism: every value (clean or anomalous) is a function of (latitude, longitude, time,
seed) only; the same timestamp gives the same value whatever window or batch it is requested
in. Units: °C, %, mm, km/h. Values stay inside domain.PHYSICAL_RANGES.
"""

from preempt.simulation.anomalies import (
    ANOMALY_KINDS,
    AnomalyConfig,
    AnomalyLabel,
    Injection,
    inject_anomalies,
    simulate_with_anomalies,
)
from preempt.simulation.weather import (
    METRICS,
    dew_point_c,
    elevation_m,
    relative_humidity_pct,
    simulate_points,
    simulate_weather,
)

__all__ = [
    "ANOMALY_KINDS",
    "METRICS",
    "AnomalyConfig",
    "AnomalyLabel",
    "Injection",
    "dew_point_c",
    "elevation_m",
    "inject_anomalies",
    "relative_humidity_pct",
    "simulate_points",
    "simulate_weather",
    "simulate_with_anomalies",
]
