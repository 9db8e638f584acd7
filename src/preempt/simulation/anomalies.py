"""Anomaly injector: labelled sensor faults and extreme events on top of simulated weather.

Events are scheduled in absolute time, not per window: each (location, metric, 6-hour slot)
draws from hashed noise whether an event starts in it, its kind, start hour, duration and size.
So the same timestamp carries the same anomaly whatever window is requested, and the labels of
any window are exactly the events that touch one of its samples.

Kinds (magnitudes in the metric's unit; `magnitude` in a label is the added offset at its peak,
the held value for `stuck`, NaN for `dropout`):
- spike: one hour far off (+/-), e.g. ±12..24 °C, +30..60 mm, +45..90 km/h;
- stuck: the sensor repeats the value it read at the start, 3..24 h;
- drift: an offset growing linearly from 0, 6..48 h;
- dropout: no reading (NaN, served as JSON null), 1..12 h;
- level_shift: a constant offset, 12..72 h;
- extreme_heat / extreme_cold: a heat wave or cold snap on temperature_2m (dew point follows,
  so relative humidity stays plausible), a smooth +/-12..20 °C bump over 12..72 h; labelled on
  both temperature_2m and dew_point_2m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from preempt.domain import PHYSICAL_RANGES
from preempt.simulation.noise import F64, hashed_index, key, signed, unit
from preempt.simulation.weather import location_key, simulate_points, simulate_weather

ANOMALY_KINDS: tuple[str, ...] = (
    "spike",
    "stuck",
    "drift",
    "dropout",
    "level_shift",
    "extreme_heat",
    "extreme_cold",
)
SLOT_S = 6 * 3600
_HOUR = 3600
_EXTREMES = ("extreme_heat", "extreme_cold")
_MAX_DURATION_S = 72 * _HOUR
# Typical size of a fault per metric (its unit): spikes are 1-2x, shifts 0.4-0.8x, drifts 0.6-1.2x.
_SCALE: dict[str, float] = {
    "temperature_2m": 12.0,
    "relative_humidity_2m": 35.0,
    "dew_point_2m": 10.0,
    "precipitation": 30.0,
    "wind_speed_10m": 45.0,
    "wind_gusts_10m": 60.0,
}
_UPWARD_ONLY = frozenset({"precipitation", "wind_speed_10m", "wind_gusts_10m"})
_DURATION_H: dict[str, tuple[int, int]] = {
    "spike": (1, 1),
    "stuck": (3, 24),
    "drift": (6, 48),
    "dropout": (1, 12),
    "level_shift": (12, 72),
    "extreme_heat": (12, 72),
    "extreme_cold": (12, 72),
}
_SALT = 0xA40


@dataclass(frozen=True, slots=True)
class AnomalyConfig:
    """rate_per_day: expected events per location per metric per day (0 disables, max 4)."""

    rate_per_day: float = 0.05
    kinds: tuple[str, ...] = ANOMALY_KINDS
    metrics: tuple[str, ...] | None = None  # None: every metric given to the injector

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate_per_day <= 86400 / SLOT_S:
            raise ValueError(f"rate_per_day must be within 0..4, not {self.rate_per_day}")
        unknown = [k for k in self.kinds if k not in ANOMALY_KINDS]
        if unknown:
            raise ValueError(f"unknown anomaly kind {unknown[0]!r}; known: {ANOMALY_KINDS}")


@dataclass(frozen=True, slots=True)
class AnomalyLabel:
    """Ground truth of one event: samples with start_s <= time < end_s (epoch s, UTC)."""

    location_index: int
    latitude: float
    longitude: float
    metric: str
    kind: str
    start_s: int
    end_s: int
    magnitude: float


@dataclass(frozen=True, slots=True)
class Injection:
    """values/masks: metric -> (n_locations, n_times); masks are True where a label applies."""

    values: dict[str, F64]
    masks: dict[str, npt.NDArray[np.bool_]]
    labels: list[AnomalyLabel] = field(default_factory=list)


def allowed_kinds(metric: str, kinds: tuple[str, ...]) -> tuple[str, ...]:
    """The configured kinds that apply to a metric (extremes start on temperature only)."""
    return tuple(k for k in kinds if k not in _EXTREMES or metric == "temperature_2m")


def simulate_with_anomalies(
    latitude: npt.ArrayLike,
    longitude: npt.ArrayLike,
    times: npt.ArrayLike,
    *,
    seed: int = 0,
    step_s: int = 3600,
    config: AnomalyConfig | None = None,
) -> Injection:
    """simulate_weather() followed by inject_anomalies() with the same seed and step."""
    values = simulate_weather(latitude, longitude, times, seed=seed, step_s=step_s)
    return inject_anomalies(
        latitude, longitude, times, values, seed=seed, step_s=step_s, config=config
    )


def inject_anomalies(
    latitude: npt.ArrayLike,
    longitude: npt.ArrayLike,
    times: npt.ArrayLike,
    values: dict[str, F64],
    *,
    seed: int = 0,
    step_s: int = 3600,
    config: AnomalyConfig | None = None,
) -> Injection:
    """Copies of `values` (metric -> (n_locations, n_times)) with events applied, plus truth.

    `values` must come from simulate_weather() with the same coordinates, times, seed and step_s
    (stuck sensors re-read the clean value at their start time). Results are clipped to
    domain.PHYSICAL_RANGES; NaN marks a dropout.
    """
    cfg = config or AnomalyConfig()
    lat = np.asarray(latitude, dtype=np.float64).reshape(-1)
    lon = np.asarray(longitude, dtype=np.float64).reshape(-1)
    t = np.asarray(times, dtype=np.int64).reshape(-1)
    out = {m: np.array(v, dtype=np.float64, copy=True) for m, v in values.items()}
    masks = {m: np.zeros(v.shape, dtype=np.bool_) for m, v in out.items()}
    labels: list[AnomalyLabel] = []
    if cfg.rate_per_day <= 0 or t.size == 0 or lat.size == 0:
        return Injection(out, masks, labels)
    metrics = [m for m in (cfg.metrics or tuple(out)) if m in out]
    loc = location_key(lat, lon)
    probability = cfg.rate_per_day * SLOT_S / 86400
    first = (int(t.min()) - _MAX_DURATION_S) // SLOT_S
    last = int(t.max()) // SLOT_S
    stuck: list[tuple[str, npt.NDArray[np.intp], _Events]] = []
    dropouts: list[tuple[str, npt.NDArray[np.intp], _Events]] = []
    for slot in range(first, last + 1):
        for metric in metrics:
            kinds = allowed_kinds(metric, cfg.kinds)
            if not kinds:
                continue
            event = _draw(loc, seed, metric, slot, probability, kinds, t)
            for kind_index, kind in enumerate(kinds):
                rows = np.flatnonzero(event.active & (event.kind == kind_index))
                if not rows.size:
                    continue
                if kind == "stuck":
                    stuck.append((metric, rows, event))
                elif kind == "dropout":
                    dropouts.append((metric, rows, event))
                else:
                    _apply(kind, metric, rows, event, t, out, masks, labels, lat, lon)
    if stuck:
        # Stuck sensors hold the clean reading at their start: one batched evaluation for all.
        all_rows = np.concatenate([rows for _, rows, _ in stuck])
        starts = np.concatenate([ev.start[rows] for _, rows, ev in stuck])
        clean = simulate_points(lat[all_rows], lon[all_rows], starts, seed=seed, step_s=step_s)
        offset = 0
        for metric, rows, ev in stuck:
            held = clean[metric][offset : offset + rows.size] if metric in clean else None
            offset += rows.size
            _apply("stuck", metric, rows, ev, t, out, masks, labels, lat, lon, held=held)
    for metric, rows, ev in dropouts:  # last, so a missing reading stays missing
        _apply("dropout", metric, rows, ev, t, out, masks, labels, lat, lon)
    for metric, arr in out.items():
        low, high = PHYSICAL_RANGES.get(metric, (-math.inf, math.inf))
        np.clip(arr, low, high, out=arr)
    labels.sort(key=lambda lb: (lb.location_index, lb.start_s, lb.metric))
    return Injection(out, masks, labels)


@dataclass(frozen=True, slots=True)
class _Events:
    active: npt.NDArray[np.bool_]
    kind: npt.NDArray[np.int64]
    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    size: F64  # in [0, 1)
    sign: F64  # +1 or -1


def _draw(
    loc: npt.NDArray[np.uint64],
    seed: int,
    metric: str,
    slot: int,
    probability: float,
    kinds: tuple[str, ...],
    t: npt.NDArray[np.int64],
) -> _Events:
    base = hashed_index(loc ^ key(seed, _SALT, _metric_id(metric)), slot)
    draws = [unit(hashed_index(base, i)) for i in range(6)]
    kind = np.minimum((draws[1] * len(kinds)).astype(np.int64), len(kinds) - 1)
    start = slot * SLOT_S + (draws[2] * (SLOT_S // _HOUR)).astype(np.int64) * _HOUR
    low = np.array([_DURATION_H[k][0] for k in kinds], dtype=np.int64)[kind]
    high = np.array([_DURATION_H[k][1] for k in kinds], dtype=np.int64)[kind]
    hours = low + np.floor(draws[3] * (high - low + 1)).astype(np.int64)
    end = start + hours * _HOUR
    # An event touches the window when a sample lies in [start, end): check via sorted times.
    first_inside = np.searchsorted(t, start, side="left") if _is_sorted(t) else None
    touches: npt.NDArray[np.bool_]
    if first_inside is not None:
        touches = (first_inside < t.size) & (t[np.minimum(first_inside, t.size - 1)] < end)
    else:
        hits = (t[None, :] >= start[:, None]) & (t[None, :] < end[:, None])
        touches = np.asarray(hits.any(axis=1), dtype=np.bool_)
    active = (draws[0] < probability) & touches
    sign = np.where(signed(hashed_index(base, 9)) < 0, -1.0, 1.0)
    return _Events(active, kind, start, end, draws[4], sign)


def _is_sorted(t: npt.NDArray[np.int64]) -> bool:
    return bool(t.size < 2 or np.all(t[1:] >= t[:-1]))


def _metric_id(metric: str) -> int:
    return sum((i + 1) * ord(ch) for i, ch in enumerate(metric))


def _apply(
    kind: str,
    metric: str,
    rows: npt.NDArray[np.intp],
    ev: _Events,
    t: npt.NDArray[np.int64],
    out: dict[str, F64],
    masks: dict[str, npt.NDArray[np.bool_]],
    labels: list[AnomalyLabel],
    lat: F64,
    lon: F64,
    *,
    held: F64 | None = None,
) -> None:
    start = ev.start[rows][:, None]
    end = ev.end[rows][:, None]
    inside = (t[None, :] >= start) & (t[None, :] < end)
    scale = _SCALE.get(metric, 10.0)
    sign = np.ones(rows.size) if metric in _UPWARD_ONLY else ev.sign[rows]
    size = ev.size[rows]
    block = out[metric][rows]
    if kind == "spike":
        magnitude = sign * scale * (1.0 + size)
        block = np.where(inside, block + magnitude[:, None], block)
    elif kind == "stuck":
        magnitude = held if held is not None else block[:, 0]
        if metric == "precipitation":
            magnitude = np.maximum(magnitude, 0.2 + 2.0 * size)
        block = np.where(inside, magnitude[:, None], block)
    elif kind == "drift":
        magnitude = sign * scale * (0.6 + 0.6 * size)
        ramp = (t[None, :] - start) / (end - start)
        block = np.where(inside, block + magnitude[:, None] * ramp, block)
    elif kind == "dropout":
        magnitude = np.full(rows.size, np.nan)
        block = np.where(inside, np.nan, block)
    elif kind == "level_shift":
        magnitude = sign * scale * (0.4 + 0.4 * size)
        block = np.where(inside, block + magnitude[:, None], block)
    else:  # extreme_heat / extreme_cold: a smooth bump on temperature, dew point follows
        direction = 1.0 if kind == "extreme_heat" else -1.0
        magnitude = direction * (12.0 + 8.0 * size)
        bump = np.sin(np.pi * (t[None, :] - start) / (end - start)) * magnitude[:, None]
        block = np.where(inside, block + bump, block)
        if "dew_point_2m" in out:
            dew = out["dew_point_2m"][rows]
            out["dew_point_2m"][rows] = np.where(inside, dew + bump, dew)
            masks["dew_point_2m"][rows] |= inside
            _label(labels, rows, ev, lat, lon, "dew_point_2m", kind, magnitude)
    out[metric][rows] = block
    masks[metric][rows] |= inside
    _label(labels, rows, ev, lat, lon, metric, kind, magnitude)


def _label(
    labels: list[AnomalyLabel],
    rows: npt.NDArray[np.intp],
    ev: _Events,
    lat: F64,
    lon: F64,
    metric: str,
    kind: str,
    magnitude: F64,
) -> None:
    for j, row in enumerate(rows.tolist()):
        labels.append(
            AnomalyLabel(
                location_index=row,
                latitude=float(lat[row]),
                longitude=float(lon[row]),
                metric=metric,
                kind=kind,
                start_s=int(ev.start[row]),
                end_s=int(ev.end[row]),
                magnitude=round(float(magnitude[j]), 3),
            )
        )
