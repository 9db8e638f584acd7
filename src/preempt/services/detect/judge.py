"""One detect job: a batch of locations from the metrics table to anomalies and suggestions.

load (one query) → what is not judged yet (watermark) → ML jobs out → statistical + rules in
process → ML scores in → feedback suppression → combine → suggestions → one transaction that
writes anomalies, suggestions, the watermark and the job's row. Pure cores do the maths.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from sqlalchemy.engine import Engine

from preempt import domain
from preempt.config import Settings
from preempt.detection import Anomaly as FoundAnomaly
from preempt.detection import (
    ClassicParams,
    Detection,
    DetectorParams,
    FalsePositive,
    Method,
    Records,
    Rule,
    SeasonalParams,
    SeriesKey,
    SuggestParams,
    combine,
    detect,
    similar_to_false_positives,
    suggest,
    suppress,
    with_scores,
)
from preempt.services.detect.ml_client import FloatArray, IntArray, MLClient, merge_scores
from preempt.storage.anomalies import upsert_anomalies
from preempt.storage.detect_state import (
    JobFigures,
    SeriesBatch,
    SeriesRecord,
    SeriesState,
    StoredAnomaly,
    load_series,
    load_state,
    location_names,
    naive_utc,
    record_job,
    stored_anomalies,
    stored_records_before,
    write_state,
)
from preempt.storage.suggestions import upsert_suggestions

logger = logging.getLogger(__name__)

DAY_S = 86400.0
ML_METHODS = ("iforest", "hybrid")


@dataclass(frozen=True, slots=True)
class JobContext:
    """Everything a job needs besides its locations."""

    settings: Settings
    engine: Engine
    ml: MLClient | None
    cycle_id: str
    job_no: int
    worker: str
    now_s: float
    should_stop: Callable[[], bool] | None = None


def detector_params(settings: Settings) -> DetectorParams:
    """Classic z-score over `lookback_days` (SEED.md's 7); the seasonal baseline over
    `seasonal_days` (two weeks: scales that have seen more than one weather regime)."""
    d = settings.detect
    window = d.lookback_days * DAY_S
    seasonal_window = d.seasonal_days * DAY_S
    return DetectorParams(
        seasonal=SeasonalParams(window_s=seasonal_window, z_threshold=d.z_threshold),
        classic=ClassicParams(window_s=window, z_threshold=d.classic_z_threshold),
    )


def history_days(settings: Settings) -> float:
    """Days of samples a job loads: the longest window any part of the job looks back over."""
    d = settings.detect
    return max(d.seasonal_days, d.lookback_days, settings.suggest.lookback_days)


def judge_locations(location_ids: Sequence[int], ctx: JobContext) -> JobFigures:
    """Judge every sample of these locations not judged yet; write the results; return figures."""
    started = time.perf_counter()
    s = ctx.settings
    now = naive_utc(ctx.now_s)
    window_days = history_days(s)
    since = now - timedelta(days=window_days)
    with ctx.engine.connect() as conn:
        batch = load_series(conn, location_ids, s.monitored_fields, since=since)
        states = load_state(conn, location_ids)
        # Series judged for the first time start their record from every stored sample.
        older = stored_records_before(conn, _without_record(location_ids, s, states),
                                      before=since)
        stored = stored_anomalies(conn, location_ids,
                                  since=now - timedelta(days=s.suggest.lookback_days))
        names = location_names(conn, location_ids)
    split, latest = _splits(batch, states, s)
    todo = np.flatnonzero(np.isfinite(split))
    base = JobFigures(locations=len(set(location_ids)), ml="none")
    if todo.size == 0:
        figures = replace(base, duration_s=time.perf_counter() - started)
        _write(ctx, [], [], {}, figures, now)
        return figures
    batch = _rows(batch, todo)
    split, latest = split[todo], latest[todo]
    times, values = batch.times_s, batch.values

    wants_ml = s.detect.method in ML_METHODS and ctx.ml is not None
    request = None
    if wants_ml and ctx.ml is not None:
        ctx.ml.enter_cycle(ctx.cycle_id)
        request = ctx.ml.submit(
            cycle_id=ctx.cycle_id, groups=_bucket_groups(batch, s.ml.bucket_locations),
            location_ids=batch.location_ids, metric_types=batch.metric_types,
            times_s=times, values=values, split_s=split,
        )
    records = _records_before_split(batch, states, older, split)
    det = _statistical(batch, split, s, _as_records(records, split))
    fitted = np.full(len(batch), np.nan)
    ml_state = "none"
    if wants_ml and ctx.ml is not None:
        answer = ctx.ml.collect(request, should_stop=ctx.should_stop)
        iforest, fitted = merge_scores(answer, request, times_s=times, split_s=split)
        det = with_scores(det, {"iforest": iforest} if iforest is not None else {})
        ml_state = answer.state if request is not None else "off"
    det = _without_false_positives(det, batch, stored)
    keys = _series_keys(batch, names)
    found = combine(det, times, values, keys=keys)
    anomalies = [_to_domain(a, batch) for a in found]
    suggestions = _suggestions(det, batch, stored, keys, found, s)
    new_states = _next_states(batch, states, latest, fitted, s,
                              _records_after(records, batch, split))
    judged = int(det.scored.sum())
    figures = replace(base, series=len(batch), samples=judged, anomalies_found=len(anomalies),
                      ml=ml_state)
    return _write(ctx, anomalies, suggestions, new_states, figures, now, started=started)


def _write(
    ctx: JobContext,
    anomalies: list[domain.Anomaly],
    suggestions: list[domain.Suggestion],
    states: dict[tuple[int, str], SeriesState],
    figures: JobFigures,
    now: datetime,
    *,
    started: float | None = None,
) -> JobFigures:
    with ctx.engine.begin() as conn:
        new = upsert_anomalies(conn, anomalies, now=now)
        s_new, s_updated = upsert_suggestions(conn, suggestions, now=now)
        write_state(conn, states, cycle_id=ctx.cycle_id, now=now)
        figures = replace(figures, anomalies_new=new, suggestions_new=s_new,
                          suggestions_updated=s_updated)
        if started is not None:
            figures = replace(figures, duration_s=round(time.perf_counter() - started, 3))
        record_job(conn, cycle_id=ctx.cycle_id, job_no=ctx.job_no, worker=ctx.worker,
                   figures=figures, now=now)
    return figures


def _splits(
    batch: SeriesBatch, states: dict[tuple[int, str], SeriesState], s: Settings
) -> tuple[FloatArray, FloatArray]:
    """Per series: judge samples at or after split (NaN: nothing new) and its newest sample."""
    n = len(batch)
    latest = np.full(n, np.nan)
    if n:
        finite = np.isfinite(batch.times_s)
        latest = np.where(finite.any(axis=1),
                          np.nanmax(np.where(finite, batch.times_s, -np.inf), axis=1), np.nan)
    split = np.full(n, np.nan)
    for i, (loc, metric) in enumerate(zip(batch.location_ids.tolist(), batch.metric_types,
                                          strict=True)):
        state = states.get((loc, metric))
        if not np.isfinite(latest[i]):
            continue
        if state is None:
            split[i] = latest[i] - s.detect.initial_judge_s
            continue
        start = state.judged_until_s + 0.5
        if state.rescan_from_s is not None:
            start = min(start, state.rescan_from_s)
        if latest[i] >= start:
            split[i] = start
    return split, latest


def _rows(batch: SeriesBatch, rows: IntArray) -> SeriesBatch:
    width = max(1, int(np.isfinite(batch.times_s[rows]).sum(axis=1).max()))
    return SeriesBatch(batch.location_ids[rows], tuple(batch.metric_types[i] for i in rows),
                       batch.times_s[rows, :width], batch.values[rows, :width])


def _bucket_groups(batch: SeriesBatch, bucket_locations: int) -> list[IntArray]:
    """Rows grouped by model bucket (location_id // bucket_locations): one ML job each."""
    buckets = batch.location_ids // bucket_locations
    return [np.flatnonzero(buckets == b) for b in np.unique(buckets)]


def _rules(settings: Settings) -> tuple[Rule, ...]:
    return tuple(Rule(r.metric_type, r.operator, r.threshold, r.severity, r.min_run)
                 for r in settings.detect.rules)


def _statistical(
    batch: SeriesBatch, split: FloatArray, s: Settings, records: Records
) -> Detection:
    """Statistical + rules in process, combined as the configured method (ML added later)."""
    method = s.detect.method
    stat: Method = "classic" if method == "classic" else "seasonal"
    det = detect(batch.times_s, batch.values, split_s=split, method=stat,
                 params=detector_params(s), rules=_rules(s),
                 metric_types=list(batch.metric_types),
                 groups=batch.location_ids.tolist(),  # T / dew point / humidity consistency
                 records=records)
    # Recombine under the configured method; its iforest part arrives from the trainer (or
    # not: with_scores then combines what is there, i.e. statistical + rules).
    return with_scores(replace(det, method=method), {})


def _without_false_positives(
    det: Detection, batch: SeriesBatch, stored: Sequence[StoredAnomaly]
) -> Detection:
    fps = [
        FalsePositive(f"{a.location_id}/{a.metric_type}", a.value,
                      a.expected if a.expected is not None else a.value,
                      (a.timestamp_s % DAY_S) / 3600.0, a.z_score)
        for a in stored if a.status == "false_positive"
    ]
    if not fps:
        return det
    similar = similar_to_false_positives(batch.keys(), batch.times_s, batch.values,
                                         det.expected, fps, sides=det.z)
    return replace(det, is_anomaly=suppress(det.is_anomaly, similar))


def _series_keys(batch: SeriesBatch, names: dict[int, str]) -> list[SeriesKey]:
    return [
        SeriesKey(names.get(loc, f"location {loc}"), m, domain.METRIC_UNITS.get(m, ""),
                  domain.METRIC_LABELS.get(m, m), loc)
        for loc, m in zip(batch.location_ids.tolist(), batch.metric_types, strict=True)
    ]


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _to_domain(a: FoundAnomaly, batch: SeriesBatch) -> domain.Anomaly:
    return domain.Anomaly(
        location_id=int(batch.location_ids[a.series]), metric_type=batch.metric_types[a.series],
        timestamp=naive_utc(a.timestamp_s), value=a.value, score=a.score, severity=a.severity,
        methods=a.methods, explanation=a.explanation, z_score=_finite_or_none(a.z),
        expected=_finite_or_none(a.expected), lower=_finite_or_none(a.lower),
        upper=_finite_or_none(a.upper),
    )


def _suggestions(
    det: Detection,
    batch: SeriesBatch,
    stored: Sequence[StoredAnomaly],
    keys: list[SeriesKey],
    found: Sequence[FoundAnomaly],
    s: Settings,
) -> list[domain.Suggestion]:
    """Suggestions for series that got anomalies this job, backtested over the whole window."""
    rows = sorted({a.series for a in found})
    if not rows:
        return []
    flags = np.array(det.is_anomaly, copy=True)
    index = {(loc, m): i for i, (loc, m) in enumerate(zip(batch.location_ids.tolist(),
                                                           batch.metric_types, strict=True))}
    for a in stored:
        i = index.get((a.location_id, a.metric_type))
        if i is None or a.status == "false_positive":
            continue
        col = int(np.searchsorted(batch.times_s[i], a.timestamp_s))
        if col < batch.times_s.shape[1] and abs(batch.times_s[i, col] - a.timestamp_s) < 0.5:
            flags[i, col] = True
    pick = np.asarray(rows)
    params = SuggestParams(min_anomalies=s.suggest.min_anomalies,
                           max_normal_fire_rate=s.suggest.max_normal_fire_rate)
    proposed = suggest(batch.times_s[pick], batch.values[pick], flags[pick], det.expected[pick],
                       keys=[keys[i] for i in rows], params=params)
    out = []
    for p in proposed:
        row = rows[p.series]
        out.append(domain.Suggestion(
            location_id=int(batch.location_ids[row]), metric_type=p.metric_type,
            direction=p.direction, operator=p.operator, threshold=p.threshold,
            confidence=p.confidence, description=p.description, anomaly_count=p.anomaly_count,
            caught=p.caught, missed=p.missed, false_fires=p.false_fires,
            fires_per_week=p.fires_per_week, percentile=p.percentile,
            persistence_k=p.persistence_k, persistence_n=p.persistence_n,
        ))
    return out


def _next_states(
    batch: SeriesBatch,
    states: dict[tuple[int, str], SeriesState],
    latest: FloatArray,
    fitted: FloatArray,
    s: Settings,
    records: Sequence[SeriesRecord | None],
) -> dict[tuple[int, str], SeriesState]:
    """Watermarks and records after this job; a series whose model changed is rescanned next
    cycle."""
    out: dict[tuple[int, str], SeriesState] = {}
    for i, key in enumerate(zip(batch.location_ids.tolist(), batch.metric_types, strict=True)):
        old = states.get(key)
        model = float(fitted[i]) if np.isfinite(fitted[i]) else None
        rescan = None
        if model is None:
            model = old.model_fitted_at_s if old is not None else None
        elif old is not None and old.model_fitted_at_s is not None \
                and old.model_fitted_at_s != model:
            rescan = max(float(latest[i]) - s.detect.rescan_s, 0.0)
        out[key] = SeriesState(float(latest[i]), model, rescan, records[i])
    return out


# --- records (detection.records): kept with the watermark, updated with each judged batch ------


def _without_record(
    location_ids: Sequence[int], s: Settings, states: dict[tuple[int, str], SeriesState]
) -> list[tuple[int, str]]:
    return [(loc, m) for loc in location_ids for m in s.monitored_fields
            if (st := states.get((loc, m))) is None or st.record is None]


def _sample_records(batch: SeriesBatch, rows: npt.NDArray[np.bool_]) -> list[SeriesRecord | None]:
    """Per row of the batch: highest, lowest and first time of its samples where `rows`."""
    take = rows & np.isfinite(batch.values)
    high = np.where(take, batch.values, -np.inf).max(axis=1, initial=-np.inf)
    low = np.where(take, batch.values, np.inf).min(axis=1, initial=np.inf)
    first = np.where(take, batch.times_s, np.inf).min(axis=1, initial=np.inf)
    return [SeriesRecord(h, lo, t) if np.isfinite(t) else None
            for h, lo, t in zip(high.tolist(), low.tolist(), first.tolist(), strict=True)]


def _merged(a: SeriesRecord | None, b: SeriesRecord | None) -> SeriesRecord | None:
    if a is None or b is None:
        return a or b
    return SeriesRecord(max(a.high, b.high), min(a.low, b.low), min(a.since_s, b.since_s))


def _records_before_split(
    batch: SeriesBatch, states: dict[tuple[int, str], SeriesState],
    older: dict[tuple[int, str], SeriesRecord], split: FloatArray,
) -> list[SeriesRecord | None]:
    """Each row's record of the samples before its split: the one kept with the watermark, or
    (the first time) the stored samples older than the loaded window plus the loaded ones
    before the split."""
    keys = list(zip(batch.location_ids.tolist(), batch.metric_types, strict=True))
    loaded = _sample_records(batch, batch.times_s < split[:, None])
    return [
        st.record if (st := states.get(key)) is not None and st.record is not None
        else _merged(older.get(key), loaded[i])
        for i, key in enumerate(keys)
    ]


def _as_records(records: Sequence[SeriesRecord | None], split: FloatArray) -> Records:
    """The detection core's form: per row, high/low (±inf: none) and the span before split."""
    high = np.array([-np.inf if r is None else r.high for r in records], dtype=np.float64)
    low = np.array([np.inf if r is None else r.low for r in records], dtype=np.float64)
    span = np.array([0.0 if r is None else split[i] - r.since_s for i, r in enumerate(records)],
                    dtype=np.float64)
    return Records(high, low, span)


def _records_after(
    records: Sequence[SeriesRecord | None], batch: SeriesBatch, split: FloatArray
) -> list[SeriesRecord | None]:
    """The records with this job's judged samples added (they cover up to the new watermark)."""
    judged = _sample_records(batch, batch.times_s >= split[:, None])
    return [_merged(r, j) for r, j in zip(records, judged, strict=True)]
