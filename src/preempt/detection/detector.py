"""Run the methods on a batch: live (`detect`: history before a split, score what follows),
offline causal (`detect_causal`: every sample against the window before its block) and `bands`.

Every method yields a calibrated score in [0, 1] with 0.5 at its decision line; the method chosen
combines them (max) into `Detection.score`, and `is_anomaly` is `score >= 0.5`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Literal

import numpy as np

from preempt.detection.classic import ClassicParams, classic_ratio, fit_classic
from preempt.detection.consistency import (
    consistency_ratio,
    humidity_explained,
    magnus_error_z,
    magnus_triples,
)
from preempt.detection.features import FEATURE_NAMES, build_features
from preempt.detection.forest import ForestParams, Forests, calibrated_ratio, fit_forests
from preempt.detection.grid import DAY_S, as_batch
from preempt.detection.metrics import (
    clip_to_physical,
    min_scale_for,
    plateau_for,
    upward_only_for,
)
from preempt.detection.records import Records, record_ratio, records_before
from preempt.detection.robust import BoolArray, FloatArray, score_from_ratio
from preempt.detection.rules import Rule, apply_rules
from preempt.detection.seasonal import (
    SeasonalFit,
    SeasonalParams,
    fit_seasonal,
    seasonal_band,
    seasonal_ratio,
    seasonal_z,
)
from preempt.detection.spell import spell_ratio

Method = Literal["seasonal", "classic", "iforest", "hybrid"]
METHODS: Final[tuple[str, ...]] = ("seasonal", "classic", "iforest", "hybrid")

# Which per-method scores each choice combines ("stuck" and "dropout" belong to the seasonal
# baseline: a reading frozen for too long, a reading missing where the history has few gaps).
_COMBINES: Final[dict[str, tuple[str, ...]]] = {
    "seasonal": ("seasonal", "record", "stuck", "dropout", "consistency", "spell", "rules"),
    "classic": ("classic", "rules"),
    "iforest": ("iforest", "dropout", "rules"),
    "hybrid": (
        "seasonal", "record", "stuck", "dropout", "consistency", "spell", "iforest", "rules"
    ),
}


@dataclass(frozen=True, slots=True)
class DetectorParams:
    """All tuning in one value; each part documents its own fields."""

    seasonal: SeasonalParams = field(default_factory=SeasonalParams)
    classic: ClassicParams = field(default_factory=ClassicParams)
    forest: ForestParams = field(default_factory=ForestParams)
    # hybrid: the forest's flag counts only where the seasonal ratio reaches this (a second
    # opinion that lowers the statistical line for unusual combinations, not a lone voice)
    iforest_gate: float = 0.9
    # robust z of the Magnus residual RH - RH(T, Td) that flags a temperature/dew point/humidity
    consistency_z_threshold: float = 6.0
    # humidity within this Magnus z of what its temperature and dew point imply is not judged
    # on its own seasonal residual (it is their weather, not a humidity fault)
    humidity_calm_z: float = 2.0
    # long-residual z that temperature and dew point must both reach, the same way, to flag a
    # heat wave or cold snap (detection.spell) below either one's own long_z_threshold
    spell_z_threshold: float = 5.0


@dataclass(frozen=True, slots=True)
class Detection:
    """Per-sample results of one batch, arrays (S, n) aligned with the input values.

    score: combined calibrated score in [0, 1] (0 for samples not scored); is_anomaly: score >=
    0.5; expected/lower/upper: seasonal expectation and band; z: signed robust z of the larger
    seasonal residual; method_scores: calibrated score of each method that ran ("seasonal",
    "stuck", "classic", "iforest", "rules"); scored: samples judged (at/after the split, finite);
    ready: per series (S,), False when history was too short to judge (nothing flagged).
    """

    method: str
    score: FloatArray
    is_anomaly: BoolArray
    expected: FloatArray
    lower: FloatArray
    upper: FloatArray
    z: FloatArray
    method_scores: Mapping[str, FloatArray]
    scored: BoolArray
    ready: BoolArray
    support: FloatArray | None = None
    iforest_gate: float = 0.0


def detect(
    times_s: FloatArray,
    values: FloatArray,
    *,
    split_s: float | FloatArray,
    method: Method = "hybrid",
    params: DetectorParams | None = None,
    forests: Forests | None = None,
    rules: Sequence[Rule] = (),
    metric_types: Sequence[str] | None = None,
    groups: Sequence[Hashable] | None = None,
    records: Records | None = None,
) -> Detection:
    """Score the samples at or after `split_s` against the `window_s` of history before it.

    times_s (n,) or (S, n) epoch seconds; values (S, n), NaN = missing; split_s one time or one
    per series. `forests` (fitted on this batch's rows, see fit_detector_forests) is used for
    "iforest"/"hybrid"; without it they are fitted on the history first (the slow path).
    `metric_types` (one per series) enables `rules` for matching rows and the per-metric scale
    floors of detection.metrics (no rain alarm after a dry week for 0.2 mm). `groups` (one per
    series, e.g. the location id) with `metric_types` enables the cross-metric consistency check
    of temperature, dew point and humidity rows of the same group on the same time axis.
    `records` (one per series: highest/lowest value of a long record before the split) enables
    the record check of detection.records.
    """
    if method not in _COMBINES:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    p = params or DetectorParams()
    times, vals = as_batch(times_s, values)
    if vals.size == 0:
        return _empty_detection(method, vals)
    split = np.broadcast_to(np.asarray(split_s, dtype=np.float64), (vals.shape[0],)).copy()
    if metric_types is not None:
        p = _with_metric_floors(p, metric_types)
    fit = fit_seasonal(times, vals, split_s=split, params=p.seasonal)
    support = seasonal_ratio(fit, p.seasonal)
    scores: dict[str, FloatArray] = {
        "stuck": score_from_ratio(np.where(fit.ready[:, None], fit.stuck_ratio, 0.0)),
        "dropout": score_from_ratio(np.where(fit.ready[:, None], fit.missing_ratio, 0.0)),
    }
    if metric_types is not None and groups is not None:
        triples = magnus_triples(metric_types, groups)
        magnus = magnus_error_z(vals, fit.is_hist, triples)
        ratio = consistency_ratio(
            vals, vals - fit.expected_long, fit.scale_long, fit.is_hist, triples, magnus,
            threshold=p.consistency_z_threshold,
        )
        scores["consistency"] = score_from_ratio(np.where(fit.ready[:, None], ratio, 0.0))
        weather = humidity_explained(vals.shape, triples, magnus[1], calm=p.humidity_calm_z)
        support = np.where(weather, 0.0, support)
        ratio = spell_ratio(fit.z_long, triples, threshold=p.spell_z_threshold)
        scores["spell"] = score_from_ratio(np.where(fit.ready[:, None], ratio, 0.0))
    scores["seasonal"] = score_from_ratio(support)
    if records is not None:
        ratio = record_ratio(vals, records, fit.scale_long)
        scores["record"] = score_from_ratio(np.where(fit.ready[:, None], ratio, 0.0))
    classic = fit_classic(times, vals, split_s=split, params=p.classic)
    scores["classic"] = score_from_ratio(classic_ratio(classic, p.classic))
    if method in ("iforest", "hybrid"):
        features = build_features(times, vals, fit)
        if forests is None:
            start = (split - p.seasonal.window_s)[:, None]
            usable = ~fit.is_new & np.isfinite(vals) & (times >= start)
            forests = fit_forests(features, usable & fit.ready[:, None], p.forest)
        if len(forests) != vals.shape[0]:
            raise ValueError(f"{len(forests)} forests for {vals.shape[0]} series")
        cols = np.nonzero(fit.is_new.any(axis=0))[0]  # score only what is new, not the history
        iforest = np.zeros(vals.shape)
        iforest[:, cols] = score_from_ratio(calibrated_ratio(forests, features[:, cols]))
        scores["iforest"] = np.where(np.isfinite(vals), iforest, 0.0)
    if rules and metric_types is not None:
        scores["rules"] = apply_rules(rules, metric_types, vals)[0]
    scored = fit.is_new
    scores = {k: np.where(scored, v, 0.0) for k, v in scores.items()}
    lower, upper = seasonal_band(fit, p.seasonal)
    expected = fit.expected_short
    if metric_types is not None:
        expected, lower, upper = clip_to_physical(metric_types, expected, lower, upper)
    z = seasonal_z(fit, p.seasonal)
    base = Detection(
        method=method,
        score=np.zeros(vals.shape),
        is_anomaly=np.zeros(vals.shape, dtype=bool),
        expected=expected,
        lower=lower,
        upper=upper,
        z=classic.z if method == "classic" else z,
        method_scores=scores,
        scored=scored,
        ready=fit.ready if method != "classic" else classic.ready,
        support=support,
        iforest_gate=p.iforest_gate,
    )
    return with_scores(base, {})


def methods_for(method: str) -> tuple[str, ...]:
    """The per-method scores a method choice combines (and may list as flagging a sample)."""
    return _COMBINES[method]


def with_scores(detection: Detection, extra: Mapping[str, FloatArray]) -> Detection:
    """The detection with method scores added or replaced (e.g. "iforest" from the ML worker),
    its combined score and flags recomputed for its method."""
    scores = {**detection.method_scores, **extra}
    if "iforest" in scores and detection.method == "hybrid" and detection.support is not None:
        gated = detection.support >= detection.iforest_gate
        scores["iforest"] = np.where(gated, scores["iforest"], np.minimum(scores["iforest"], 0.49))
    parts = [scores[name] for name in _COMBINES[detection.method] if name in scores]
    combined = np.maximum.reduce(parts) if parts else np.zeros_like(detection.score)
    combined = np.where(detection.scored, np.clip(combined, 0.0, 1.0), 0.0)
    return replace(detection, score=combined, is_anomaly=combined >= 0.5, method_scores=scores)


def fit_detector_forests(
    times_s: FloatArray,
    values: FloatArray,
    *,
    split_s: float | FloatArray,
    params: DetectorParams | None = None,
    metric_types: Sequence[str] | None = None,
) -> Forests:
    """Fit one Isolation Forest per series on its history before `split_s` (the training step
    the ML worker runs once per model age, not every cycle)."""
    p = params or DetectorParams()
    times, vals = as_batch(times_s, values)
    if vals.size == 0:
        n_feat = len(FEATURE_NAMES)
        return fit_forests(np.zeros((*vals.shape, n_feat)), np.zeros(vals.shape, bool), p.forest)
    split = np.broadcast_to(np.asarray(split_s, dtype=np.float64), (vals.shape[0],)).copy()
    if metric_types is not None:
        p = _with_metric_floors(p, metric_types)
    fit = fit_seasonal(times, vals, split_s=split, params=p.seasonal)
    features = build_features(times, vals, fit)
    usable = ~fit.is_new & np.isfinite(vals) & (times >= (split - p.seasonal.window_s)[:, None])
    return fit_forests(features, usable & fit.ready[:, None], p.forest)


def detect_causal(
    times_s: FloatArray,
    values: FloatArray,
    *,
    method: Method = "hybrid",
    params: DetectorParams | None = None,
    block_s: float = DAY_S,
    rules: Sequence[Rule] = (),
    metric_types: Sequence[str] | None = None,
    groups: Sequence[Hashable] | None = None,
    max_rows: int = 4_000,
) -> Detection:
    """Score every sample of long series causally, as the live service would have; each block
    also gets the record (highest/lowest value) of all samples before it (detection.records).

    The time axis (n,) is shared by all rows. It is cut into blocks of `block_s`; the samples of
    a block are scored by `detect` with the split at the block's start, i.e. against the window
    before it (and iforest models refitted per block: a model age of `block_s`). All blocks of
    all series run as one batch of (series x block) rows, so there is no loop over time.
    """
    p = params or DetectorParams()
    times = np.asarray(times_s, dtype=np.float64)
    if times.ndim != 1:
        raise ValueError("detect_causal needs one time axis (n,) shared by all series")
    _, vals = as_batch(times, values)
    n_series, n = vals.shape
    if n == 0:
        return _empty_detection(method, vals)
    window = max(p.seasonal.window_s, p.classic.window_s)
    first = float(np.floor(times[0] / block_s) * block_s)
    starts = first + block_s * np.arange(int((times[-1] - first) // block_s) + 1)
    lo = np.searchsorted(times, starts - window, side="left")
    mid = np.searchsorted(times, starts, side="left")
    hi = np.searchsorted(times, starts + block_s, side="left")
    keep = hi > mid
    starts, lo, mid, hi = starts[keep], lo[keep], mid[keep], hi[keep]
    # every block row is as wide as a full window + block at the finest step, whatever the
    # series' length, so that a prefix of a series lays out (and seeds its forests) the same way
    steps = np.diff(times)
    finest = float(steps[steps > 0].min()) if (steps > 0).any() else block_s
    width = max(int((hi - lo).max()), int(np.ceil((window + block_s) / finest)) + 1)
    cols = lo[:, None] + np.arange(width)[None, :]
    inside = cols < hi[:, None]
    cols = np.minimum(cols, n - 1)
    block_times = np.where(inside, times[cols], np.nan)
    out = _empty_detection(method, vals)
    scores: dict[str, FloatArray] = {}
    support = np.zeros(vals.shape)  # kept so that with_scores can gate a later iforest score
    rows_per = max(1, max_rows // max(n_series, 1))
    for b0 in range(0, len(starts), rows_per):
        b1 = min(b0 + rows_per, len(starts))
        t_rows = np.tile(block_times[b0:b1], (n_series, 1))
        v_rows = np.where(inside[b0:b1][None], vals[:, cols[b0:b1]], np.nan)
        v_rows = v_rows.reshape(n_series * (b1 - b0), width)
        metrics = (
            None if metric_types is None else [m for m in metric_types for _ in range(b1 - b0)]
        )
        row_groups = (
            None if groups is None else [(g, b) for g in groups for b in range(b0, b1)]
        )
        part = detect(
            t_rows, v_rows, split_s=np.tile(starts[b0:b1], n_series), method=method,
            params=p, rules=rules, metric_types=metrics, groups=row_groups,
            records=records_before(times, vals, np.asarray(starts[b0:b1], dtype=np.float64)),
        )
        own = (t_rows >= np.tile(starts[b0:b1], n_series)[:, None]) & np.isfinite(t_rows)
        series_idx = np.repeat(np.arange(n_series), b1 - b0)[:, None]
        target_cols = np.tile(cols[b0:b1], (n_series, 1))
        r, c = np.nonzero(own)
        dest = (series_idx[r, 0], target_cols[r, c])
        for name in ("score", "expected", "lower", "upper", "z"):
            getattr(out, name)[dest] = getattr(part, name)[r, c]
        out.is_anomaly[dest] = part.is_anomaly[r, c]
        out.scored[dest] = part.scored[r, c]
        if part.support is not None:
            support[dest] = part.support[r, c]
        for key, arr in part.method_scores.items():
            scores.setdefault(key, np.zeros(vals.shape))[dest] = arr[r, c]
        ready_rows = part.ready.reshape(n_series, b1 - b0)
        out.ready[:] |= ready_rows.any(axis=1)
    return replace(out, method_scores=scores, support=support, iforest_gate=p.iforest_gate)


def bands(
    times_s: FloatArray,
    values: FloatArray,
    *,
    params: SeasonalParams | None = None,
    metric_types: Sequence[str] | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(expected, lower, upper) per sample (S, n) for charting, fitted on the whole window given
    (not causal: the dashboard shows what is normal for the period on screen). With
    `metric_types` (one per series) the metric's scale floor applies, as in detect(), and the
    band stays within what the metric can physically be."""
    p = params or SeasonalParams()
    if metric_types is not None:
        p = _with_metric_floors(DetectorParams(seasonal=p), metric_types).seasonal
    times, vals = as_batch(times_s, values)
    last = np.nanmax(np.where(np.isfinite(times), times, -np.inf), axis=1) + 1.0
    window = max(p.window_s, float(np.nanmax(last - np.nanmin(times, axis=1))) + p.cell_s)
    p_all = replace(p, window_s=np.ceil(window / DAY_S) * DAY_S)
    fit: SeasonalFit = fit_seasonal(times, vals, split_s=last, params=p_all)
    lower, upper = seasonal_band(fit, p_all)
    if metric_types is None:
        return fit.expected_short, lower, upper
    expected, lower, upper = clip_to_physical(metric_types, fit.expected_short, lower, upper)
    return expected, lower, upper


def _with_metric_floors(p: DetectorParams, metric_types: Sequence[str]) -> DetectorParams:
    if len(metric_types) == 0:
        return p
    floor = np.maximum(np.asarray(p.seasonal.min_scale, dtype=np.float64),
                       min_scale_for(metric_types))
    plateau = np.where(np.isnan(p.seasonal.plateau), plateau_for(metric_types), p.seasonal.plateau)
    upward = np.asarray(p.seasonal.upward_only) | upward_only_for(metric_types)
    return replace(p, seasonal=replace(p.seasonal, min_scale=floor, plateau=plateau,
                                       upward_only=upward))


def _empty_detection(method: str, vals: FloatArray) -> Detection:
    shape = vals.shape
    nan = np.full(shape, np.nan)
    return Detection(
        method=method,
        score=np.zeros(shape),
        is_anomaly=np.zeros(shape, dtype=bool),
        expected=nan.copy(),
        lower=nan.copy(),
        upper=nan.copy(),
        z=nan.copy(),
        method_scores={},
        scored=np.zeros(shape, dtype=bool),
        ready=np.zeros(shape[0], dtype=bool),
    )
