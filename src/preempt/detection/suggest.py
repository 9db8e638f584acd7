"""Alarm suggestions from repeated anomalies: a threshold, operator and k-of-n persistence chosen
from the history, with a backtest (caught, missed, false fires), percentile, fires per week and
a plain-language description, e.g. "Wind above 62 km/h in Lisbon: would have fired 4 times in
the last 7 days, catching 4 of 5 anomalies, no false alarms".

Input per series: the lookback history (times, values), which samples were anomalies and the
expected value at each (to tell above from below). Series are handled one by one (only those
with enough anomalies), each vectorised over all candidate thresholds and samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np

from preempt.detection.combine import SeriesKey
from preempt.detection.grid import DAY_S, as_batch
from preempt.detection.robust import BoolArray, FloatArray

Direction = Literal["above", "below"]

# No alarm below these thresholds: no wind alarm at 12 km/h, no rain alarm at 0.1 mm.
DEFAULT_ABOVE_FLOORS: Final[dict[str, float]] = {
    "wind_speed_10m": 40.0,
    "wind_gusts_10m": 60.0,
    "precipitation": 2.0,
    "rain": 2.0,
    "snowfall": 1.0,
}
# Metrics for which "below X" is not an alarm a person wants (calm wind, no rain).
DEFAULT_NO_BELOW: Final[frozenset[str]] = frozenset(
    {"wind_speed_10m", "wind_gusts_10m", "precipitation", "rain", "snowfall"}
)
# Thresholds are written the way weather services write them: round steps per metric.
DEFAULT_STEPS: Final[dict[str, float]] = {
    "temperature_2m": 0.5,
    "dew_point_2m": 0.5,
    "apparent_temperature": 0.5,
    "relative_humidity_2m": 1.0,
    "cloud_cover": 5.0,
    "precipitation": 0.5,
    "rain": 0.5,
    "snowfall": 0.5,
    "wind_speed_10m": 1.0,
    "wind_gusts_10m": 1.0,
    "pressure_msl": 1.0,
    "surface_pressure": 1.0,
}
PERSISTENCE_OPTIONS: Final[tuple[tuple[int, int], ...]] = ((1, 1), (2, 3), (3, 4))


@dataclass(frozen=True, slots=True)
class SuggestParams:
    """min_anomalies: SEED.md's 3+; min_per_direction: anomalies needed on one side (3: every
    suggestion stands on SEED.md's 3+ anomalies of its own direction, not on two highs and a
    low); max_normal_fire_rate: share of normal samples a threshold may exceed (1 %)."""

    min_anomalies: int = 3
    min_per_direction: int = 3
    max_normal_fire_rate: float = 0.01
    persistence_options: tuple[tuple[int, int], ...] = PERSISTENCE_OPTIONS
    above_floors: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_ABOVE_FLOORS))
    no_below: frozenset[str] = DEFAULT_NO_BELOW
    steps: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_STEPS))


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A proposed alarm: fire when `operator threshold` holds for k of the last n readings."""

    series: int
    location: str
    metric_type: str
    direction: Direction
    operator: Literal[">", "<"]
    threshold: float
    persistence_k: int
    persistence_n: int
    confidence: float
    anomaly_count: int
    caught: int
    missed: int
    fires: int
    false_fires: int
    normal_fire_rate: float
    percentile: float
    fires_per_week: float
    description: str


@dataclass(frozen=True, slots=True)
class Backtest:
    fires: int
    true_fires: int
    caught: int
    normal_fire_rate: float


def suggest(
    times_s: FloatArray,
    values: FloatArray,
    is_anomaly: BoolArray,
    expected: FloatArray,
    *,
    keys: Sequence[SeriesKey],
    params: SuggestParams | None = None,
) -> list[Suggestion]:
    """Suggestions for every series with min_anomalies+ anomalies; at most one per direction."""
    p = params or SuggestParams()
    times, vals = as_batch(times_s, values)
    flags = np.asarray(is_anomaly, dtype=bool) & np.isfinite(vals)
    out: list[Suggestion] = []
    for row in np.nonzero(flags.sum(axis=1) >= p.min_anomalies)[0].tolist():
        ok = np.isfinite(vals[row]) & np.isfinite(times[row])
        t, v, a = times[row][ok], vals[row][ok], flags[row][ok]
        exp = np.where(np.isfinite(expected[row][ok]), expected[row][ok], np.median(v[~a]) if
                       (~a).any() else np.median(v))
        for direction in ("above", "below"):
            side = a & ((v > exp) if direction == "above" else (v < exp))
            if side.sum() < p.min_per_direction:
                continue
            found = _best_alarm(t, v, side, a, direction, keys[row], p)
            if found is not None:
                out.append(_finish(row, found, t, v, side, keys[row], direction))
    return out


def backtest(
    values: FloatArray,
    anomalies: BoolArray,
    normal: BoolArray,
    thresholds: FloatArray,
    *,
    direction: Direction,
    k: int,
    n: int,
) -> list[Backtest]:
    """Replay alarms `value op threshold` for k of the last n readings, one per threshold.

    A fire is an episode of consecutive alarm-on checks; it is true when an anomaly lies within
    it or in the n - 1 readings before it. An anomaly is caught when the alarm is on at it or
    within the next n - 1 readings.
    """
    thr = np.asarray(thresholds, dtype=np.float64)[:, None]
    cond = (values[None, :] > thr) if direction == "above" else (values[None, :] < thr)
    csum = np.concatenate([np.zeros((len(thr), 1)), np.cumsum(cond, axis=1)], axis=1)
    idx = np.arange(values.shape[0])
    window = csum[:, idx + 1] - csum[:, np.maximum(idx + 1 - n, 0)]
    on = window >= k
    starts = on & ~np.concatenate([np.zeros((len(thr), 1), dtype=bool), on[:, :-1]], axis=1)
    episode = np.cumsum(starts, axis=1) * on  # episode number at each on-check, 0 when off
    a_idx = np.nonzero(anomalies)[0]
    results = []
    for c in range(len(thr)):
        ahead = np.minimum(a_idx[:, None] + np.arange(n)[None, :], values.shape[0] - 1)
        caught = int(on[c][ahead].any(axis=1).sum()) if len(a_idx) else 0
        hit_eps = set(episode[c][ahead][on[c][ahead]].tolist())
        fires = int(starts[c].sum())
        rate = float(cond[c][normal].mean()) if normal.any() else 0.0
        results.append(Backtest(fires, len(hit_eps - {0}), caught, rate))
    return results


@dataclass(frozen=True, slots=True)
class _Found:
    threshold: float
    k: int
    n: int
    test: Backtest
    f1: float


def _best_alarm(
    t: FloatArray,
    v: FloatArray,
    side: BoolArray,
    any_anomaly: BoolArray,
    direction: Direction,
    key: SeriesKey,
    p: SuggestParams,
) -> _Found | None:
    if direction == "below" and key.metric_type in p.no_below:
        return None
    normal = ~any_anomaly
    step = p.steps.get(key.metric_type) or _nice_step(v)
    floor = p.above_floors.get(key.metric_type) if direction == "above" else None
    candidates = _candidates(v, side, normal, direction, step, floor)
    if candidates.size == 0:
        return None
    best: _Found | None = None
    for k, n in p.persistence_options:
        tests = backtest(v, side, normal, candidates, direction=direction, k=k, n=n)
        for thr, test in zip(candidates.tolist(), tests, strict=True):
            if test.normal_fire_rate > p.max_normal_fire_rate or test.caught == 0:
                continue
            precision = test.true_fires / test.fires if test.fires else 0.0
            recall = test.caught / int(side.sum())
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            # on a tie the stricter persistence wins: one stray reading should not page anyone
            if best is None or f1 > best.f1 + 1e-9 or (abs(f1 - best.f1) <= 1e-9 and k > best.k):
                best = _Found(thr, k, n, test, f1)
    return best


def _candidates(
    v: FloatArray,
    side: BoolArray,
    normal: BoolArray,
    direction: Direction,
    step: float,
    floor: float | None,
) -> FloatArray:
    """Rounded thresholds just inside each anomalous value, respecting the floor."""
    sign = 1.0 if direction == "above" else -1.0
    inner = v[side] - sign * step * 0.5
    rounded = (np.floor(inner / step) if sign > 0 else np.ceil(inner / step)) * step
    cands = np.unique(np.concatenate([rounded, rounded - sign * step]))
    if normal.any():
        # beyond every normal reading of the lookback plus half its interquartile range: a
        # week of history is short, next week's weather must not cross it as a matter of course
        q25, q75, top = np.quantile(v[normal], [0.25, 0.75, 1.0 if sign > 0 else 0.0])
        edge = top + sign * 0.5 * (q75 - q25)
        cands = cands[(cands - edge) * sign > 0]
    if floor is not None:
        cands = cands[cands >= floor]
    return np.asarray(cands, dtype=np.float64)


def _nice_step(v: FloatArray) -> float:
    spread = float(np.nanpercentile(v, 95) - np.nanpercentile(v, 5)) if v.size else 1.0
    if spread <= 0:
        return 1.0
    raw = spread / 50.0
    mag = 10.0 ** np.floor(np.log10(raw))
    return float(min((m * mag for m in (1.0, 2.0, 5.0, 10.0) if m * mag >= raw), default=raw))


def _finish(
    row: int,
    found: _Found,
    t: FloatArray,
    v: FloatArray,
    side: BoolArray,
    key: SeriesKey,
    direction: Direction,
) -> Suggestion:
    total = int(side.sum())
    test = found.test
    false_fires = test.fires - test.true_fires
    precision = test.true_fires / test.fires if test.fires else 0.0
    recall = test.caught / total
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    confidence = round(f1 * total / (total + 2.0), 3)
    step = float(np.median(np.diff(t))) if t.size > 1 else 3600.0
    span_s = max(float(t[-1] - t[0]) + step, 3600.0)
    below = float(np.mean(v <= found.threshold)) * 100.0
    days = max(1, round(span_s / DAY_S))
    unit = f" {key.unit}" if key.unit else ""
    where = f" in {key.location}" if key.location else ""
    persistence = (
        f" (after {found.k} of {found.n} readings)" if found.k > 1 else ""
    )
    false_text = "no false alarms" if false_fires == 0 else (
        f"{false_fires} false alarm{'s' if false_fires != 1 else ''}"
    )
    description = (
        f"{key.name} {direction} {found.threshold:g}{unit}{where}{persistence}: would have fired "
        f"{test.fires} time{'s' if test.fires != 1 else ''} in the last {days} days, catching "
        f"{test.caught} of {total} anomalies, {false_text}"
    )
    return Suggestion(
        series=row,
        location=key.location,
        metric_type=key.metric_type,
        direction=direction,
        operator=">" if direction == "above" else "<",
        threshold=found.threshold,
        persistence_k=found.k,
        persistence_n=found.n,
        confidence=confidence,
        anomaly_count=total,
        caught=test.caught,
        missed=total - test.caught,
        fires=test.fires,
        false_fires=false_fires,
        normal_fire_rate=round(test.normal_fire_rate, 5),
        percentile=round(below, 2),
        fires_per_week=round(test.fires * 7 * DAY_S / span_s, 2),
        description=description,
    )
