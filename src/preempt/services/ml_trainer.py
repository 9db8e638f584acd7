"""ML trainer: jobs from stream ml_input → Isolation Forest scores on stream ml_output.

A member of the consumer group on ml_input (SEED.md's train.py): per job it loads or trains one
forest per (location, metric) through the detection core, scores the job's new samples and
publishes the result under the job's id, then acknowledges. Models live in files per bucket of
location ids in the models directory and are reused until too old or the data moved. A dead
member's job is claimed; a malformed one is dead-lettered and answered with an error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from preempt.config import MLSettings
from preempt.detection import (
    DetectorParams,
    ForestParams,
    Forests,
    ModelFileError,
    ModelSet,
    fit_detector_forests,
    load_models,
    save_models,
    stack_forests,
)

# The live path scores only the samples after the split; detect(method="iforest") would score
# all 7 days of every series, so the trainer composes the core's own steps (same maths).
from preempt.detection.features import build_features
from preempt.detection.forest import calibrated_ratio
from preempt.detection.robust import FloatArray, nan_mad, nan_median, score_from_ratio
from preempt.detection.seasonal import fit_seasonal
from preempt.errors import InvalidMessage, UpstreamError
from preempt.services.store import consumer_name
from preempt.services.waiting import Stopped, T, retry_upstream, sleep_or_stop
from preempt.storage.heartbeats import Status, record_heartbeat
from preempt.streams import Entry, StreamBus, names, send_reply
from preempt.streams.messages import MLJob, MLResult, pack_array, scored_mask

logger = logging.getLogger(__name__)

SERVICE = "ml-trainer"
TRIM_EVERY_S = 5.0

JOBS = Counter("preempt_ml_jobs_total", "ML jobs handled", ["outcome"])
SERIES = Counter("preempt_ml_series_scored_total", "Series scored")
TRAINED = Counter("preempt_ml_models_trained_total", "Isolation Forest models (re)trained")
JOB_SECONDS = Histogram("preempt_ml_job_seconds", "Time to answer one ML job",
                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120))
DEAD_LETTERS = Counter("preempt_ml_dead_letters_total", "ML jobs sent to the dead-letter stream")
PENDING = Gauge("preempt_ml_pending_jobs", "ML jobs delivered but not acknowledged")
LAG = Gauge("preempt_ml_lag_jobs", "ML jobs not yet delivered to any trainer")


def bucket_of(location_id: int, bucket_locations: int) -> int:
    return location_id // bucket_locations


def bucket_name(bucket: int) -> str:
    return f"iforest-b{bucket:07d}"


def forest_params(settings: MLSettings) -> DetectorParams:
    return DetectorParams(forest=ForestParams(
        n_trees=settings.n_estimators, max_samples=settings.max_samples,
        contamination=settings.contamination, seed=settings.seed,
    ))


class ModelStore:
    """Model sets per bucket on disk, with an in-memory LRU reloaded when the file changed
    (another trainer retrained it)."""

    def __init__(self, models_dir: Path, *, cache_buckets: int) -> None:
        self.models_dir = models_dir
        self._cache: OrderedDict[int, tuple[float, ModelSet]] = OrderedDict()
        self._size = cache_buckets
        self.loads = 0

    def get(self, bucket: int) -> ModelSet | None:
        name = bucket_name(bucket)
        path = self.models_dir / f"{name}.v1.joblib"
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            self._cache.pop(bucket, None)
            return None
        cached = self._cache.get(bucket)
        if cached is not None and cached[0] == mtime:
            self._cache.move_to_end(bucket)
            return cached[1]
        try:
            models = load_models(self.models_dir, name)
        except (ModelFileError, EOFError, ValueError, OSError) as exc:
            logger.warning("model file %s unusable, retraining: %s", name, exc)
            return None
        self.loads += 1
        self._remember(bucket, mtime, models)
        return models

    def put(self, bucket: int, models: ModelSet) -> None:
        path = save_models(self.models_dir, bucket_name(bucket), models)
        self._remember(bucket, path.stat().st_mtime, models)

    def _remember(self, bucket: int, mtime: float, models: ModelSet) -> None:
        self._cache[bucket] = (mtime, models)
        self._cache.move_to_end(bucket)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)


# --- one job: arrays in, scores out ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scored:
    scores: FloatArray  # row-major over scored_mask
    fitted_at_s: list[float]
    trained: int


def score_job(
    job: MLJob, store: ModelStore, settings: MLSettings, *, now_s: float
) -> Scored:
    """Reuse fresh models (train missing, old or shifted ones) and score the new samples."""
    times, values = job.arrays()
    split = np.asarray(job.split_s, dtype=np.float64)
    params = forest_params(settings)
    keys = [f"{loc}/{m}" for loc, m in zip(job.location_ids, job.metric_types, strict=True)]
    buckets = np.asarray([bucket_of(loc, settings.bucket_locations) for loc in job.location_ids])
    fit = fit_seasonal(times, values, split_s=split, params=params.seasonal)
    features = build_features(times, values, fit)
    shifted = _shifted(times, values, split, window_s=params.seasonal.window_s,
                       threshold=settings.shift_threshold)
    parts: list[Forests] = []
    order: list[int] = []
    fitted_at = np.full(len(keys), np.nan)
    trained = 0
    for bucket in np.unique(buckets).tolist():
        rows = np.flatnonzero(buckets == bucket)
        bucket_keys = [keys[r] for r in rows]
        models = store.get(bucket)
        index = models.rows_for(bucket_keys) if models is not None else None
        if models is None or index is None or not _fresh(models, index, rows, shifted,
                                                         settings, now_s):
            forests = fit_detector_forests(times[rows], values[rows], split_s=split[rows],
                                           params=params)
            models = ModelSet(forests, tuple(bucket_keys), fitted_at_s=now_s)
            store.put(bucket, models)
            index = np.arange(len(rows))
            trained += len(rows)
        parts.append(models.forests.select(index))
        order.extend(rows.tolist())
        fitted_at[rows] = models.fitted_at_s
    mask = scored_mask(times, split)
    if not order or not mask.any():
        return Scored(np.zeros(0), fitted_at.tolist(), trained)
    forests = stack_forests(parts)
    perm = np.asarray(order)
    scores = _score_new(forests, features[perm], values[perm], mask[perm])
    full = np.zeros(times.shape)
    full[perm] = scores
    return Scored(full[mask], fitted_at.tolist(), trained)


def _fresh(
    models: ModelSet,
    index: np.ndarray,
    rows: np.ndarray,
    shifted: Callable[[np.ndarray, np.ndarray], np.ndarray],
    settings: MLSettings,
    now_s: float,
) -> bool:
    if (index < 0).any() or models.age_s(now_s) > settings.max_model_age_s:
        return False
    trained_median = models.forests.fill[index, 0]  # the "value" feature's training median
    return not bool(shifted(rows, trained_median).any())


def _shifted(
    times: FloatArray, values: FloatArray, split: FloatArray, *, window_s: float,
    threshold: float,
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A test per row subset: has the history's median moved from the model's training median
    by more than `threshold` robust deviations? (bound to the job's arrays)."""
    with np.errstate(invalid="ignore"):
        hist = (times < split[:, None]) & (times >= (split - window_s)[:, None])
    hist_values = np.where(hist, values, np.nan)
    median = nan_median(hist_values)
    spread = 1.4826 * nan_mad(hist_values, median)

    def test(rows: np.ndarray, trained_median: np.ndarray) -> np.ndarray:
        scale = np.fmax(np.nan_to_num(spread[rows]), 1e-3 + 0.01 * np.abs(trained_median))
        moved = np.abs(np.nan_to_num(median[rows] - trained_median)) / scale
        return np.asarray(moved > threshold)

    return test



def _score_new(
    forests: Forests, features: FloatArray, values: FloatArray, mask: np.ndarray
) -> FloatArray:
    """iforest scores (S, n), computed only at the masked samples (a contiguous tail per row)."""
    counts = mask.sum(axis=1)
    width = int(counts.max())
    first = np.where(counts > 0, mask.argmax(axis=1), 0)
    cols = np.minimum(first[:, None] + np.arange(width)[None, :], mask.shape[1] - 1)
    inside = np.arange(width)[None, :] < counts[:, None]
    sub = np.take_along_axis(features, cols[:, :, None], axis=1)
    ratio = calibrated_ratio(forests, sub)
    sub_scores = np.where(np.isfinite(np.take_along_axis(values, cols, axis=1)),
                          score_from_ratio(ratio), 0.0)
    out = np.zeros(mask.shape)
    rows = np.repeat(np.arange(mask.shape[0]), width).reshape(mask.shape[0], width)
    out[rows[inside], cols[inside]] = sub_scores[inside]
    return out


# --- the service ------------------------------------------------------------------------------


@dataclass
class TrainerStats:
    jobs: int = 0
    series: int = 0
    trained: int = 0
    errors: int = 0
    expired: int = 0
    dead_letters: int = 0
    claimed: int = 0
    started_at: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started_at
        return (f"answered {self.jobs:,} jobs ({self.series:,} series, {self.trained:,} models "
                f"trained) in {elapsed:.1f}s; errors {self.errors:,}, expired {self.expired:,}, "
                f"dead letters {self.dead_letters:,}, claimed {self.claimed:,}")


Outcome = Literal["answered", "idle", "stopped"]


class TrainerService:
    """One member of the ml_input consumer group; drive it with `run()` or `run_once()`."""

    def __init__(
        self,
        settings: MLSettings,
        *,
        bus: StreamBus,
        engine: Engine | None = None,
        stop: threading.Event | None = None,
        consumer: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.engine = engine
        self.stop = stop or threading.Event()
        self.consumer = consumer or consumer_name()
        self.clock = clock
        self.store = ModelStore(settings.models_dir, cache_buckets=settings.cache_buckets)
        self.totals = TrainerStats()
        self._next_claim = 0.0
        self._next_trim = 0.0
        self._next_heartbeat = 0.0
        self._started = False

    def run(self, *, max_jobs: int | None = None, until_idle: bool = False) -> TrainerStats:
        """`while not stop: run_once()`; bounded by max_jobs or the first idle read."""
        try:
            while not self.stop.is_set():
                outcome = self.run_once()
                if outcome == "stopped" or (until_idle and outcome == "idle"):
                    break
                if max_jobs is not None and self.totals.jobs >= max_jobs:
                    break
        finally:
            logger.info("ml-trainer %s stopping: %s", self.consumer, self.totals.line())
            self._heartbeat("stopped", force=True)
        return self.totals

    def start(self) -> None:
        if not self._started:
            self._retry("create group",
                        lambda: self.bus.ensure_group(names.ML_INPUT, self.settings.group))
            self._started = True
            logger.info("ml-trainer %s consuming %s as group %s, models in %s", self.consumer,
                        names.key(self.bus.prefix, names.ML_INPUT), self.settings.group,
                        self.settings.models_dir)

    def run_once(self) -> Outcome:
        """One read: each job → score → publish result → ack; then housekeeping."""
        try:
            self.start()
            entries = self._read()
            for entry in entries:
                self._handle(entry)
            self._housekeeping()
        except Stopped:
            return "stopped"
        return "answered" if entries else "idle"

    def _read(self) -> list[Entry]:
        s = self.settings
        try:
            if time.monotonic() >= self._next_claim:
                self._next_claim = time.monotonic() + max(s.claim_idle_s / 4, 0.25)
                claimed = self.bus.claim_stale(names.ML_INPUT, s.group, self.consumer,
                                               min_idle_s=s.claim_idle_s, count=1)
                if claimed:
                    job = claimed[0]
                    logger.warning("claimed ML job %s (delivery %d) from a dead trainer",
                                   job.headers.get(names.JOB_ID_FIELD), job.deliveries)
                    self.totals.claimed += len(claimed)
                    return claimed
            return self.bus.read_group(names.ML_INPUT, s.group, self.consumer, count=1,
                                       block_s=s.block_s)
        except UpstreamError as exc:
            logger.warning("read from %s failed, retrying: %s", names.ML_INPUT, exc)
            self._sleep(1.0)
            return []

    def _handle(self, entry: Entry) -> None:
        started = time.perf_counter()
        job_id = entry.headers.get(names.JOB_ID_FIELD, "")
        try:
            if entry.deliveries > self.settings.max_deliveries:
                raise InvalidMessage(f"gave up after {entry.deliveries} deliveries")
            job = MLJob.decode(entry.payload)
            if job_id and job.job_id != job_id:
                raise InvalidMessage(f"header job_id {job_id!r} != payload {job.job_id!r}")
        except InvalidMessage as exc:
            self._reject(entry, job_id, str(exc))
            return
        if self.clock() > job.deadline_s:
            self.totals.expired += 1
            JOBS.labels("expired").inc()
            logger.info("ML job %s expired before it was read: skipped", job.job_id)
            self._reply(job.job_id, MLResult(job_id=job.job_id, ok=False, error="expired",
                                             worker=self.consumer))
        else:
            try:
                scored = score_job(job, self.store, self.settings, now_s=self.clock())
            except InvalidMessage as exc:
                self._reject(entry, job.job_id, str(exc))
                return
            elapsed = time.perf_counter() - started
            result = MLResult(
                job_id=job.job_id, ok=True, scores=pack_array(scored.scores, "<f4"),
                count=int(scored.scores.size), fitted_at_s=scored.fitted_at_s,
                trained=scored.trained, worker=self.consumer, duration_s=round(elapsed, 4),
            )
            self._reply(job.job_id, result)
            self.totals.jobs += 1
            self.totals.series += len(job.location_ids)
            self.totals.trained += scored.trained
            SERIES.inc(len(job.location_ids))
            TRAINED.inc(scored.trained)
            JOBS.labels("ok").inc()
            JOB_SECONDS.observe(elapsed)
            logger.debug("ML job %s: %d series, %d trained, %.3fs", job.job_id,
                         len(job.location_ids), scored.trained, elapsed)
        self._retry("ack", lambda: self.bus.ack(names.ML_INPUT, self.settings.group, [entry.id]))

    def _reject(self, entry: Entry, job_id: str, reason: str) -> None:
        """Dead-letter (and ack) the entry; answer its job id so detect stops waiting."""
        logger.error("dead-lettered ML job %s (entry %s): %s", job_id or "?", entry.id, reason)
        self._retry("dead-letter", lambda: self.bus.dead_letter(
            names.ML_INPUT, entry, reason, group=self.settings.group))
        self.totals.dead_letters += 1
        self.totals.errors += 1
        DEAD_LETTERS.inc()
        JOBS.labels("error").inc()
        if job_id:
            self._reply(job_id, MLResult(job_id=job_id[:128], ok=False, error=reason[:500],
                                         worker=self.consumer))

    def _reply(self, job_id: str, result: MLResult) -> None:
        self._retry("publish result", lambda: send_reply(
            self.bus, names.ML_OUTPUT, job_id=job_id, payload=result.encode(),
            maxlen=self.settings.output_maxlen))

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now >= self._next_trim:
            self._next_trim = now + TRIM_EVERY_S
            try:
                self.bus.trim(names.ML_INPUT)
                info = self.bus.group_info(names.ML_INPUT, self.settings.group)
            except UpstreamError as exc:
                logger.warning("trim of %s failed: %s", names.ML_INPUT, exc)
                info = None
            if info is not None:
                PENDING.set(info.pending)
                if info.lag is not None:
                    LAG.set(info.lag)
        self._heartbeat("ok")

    def _heartbeat(self, status: Status, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.engine is None or (not force and now < self._next_heartbeat):
            return
        self._next_heartbeat = now + self.settings.heartbeat_every_s
        info = {"consumer": self.consumer, "jobs": self.totals.jobs,
                "trained": self.totals.trained, "errors": self.totals.errors}
        try:
            with self.engine.begin() as conn:
                record_heartbeat(conn, SERVICE, status=status, info=info)
        except DBAPIError as exc:
            logger.warning("heartbeat not recorded: %s", str(exc).splitlines()[0])

    def _retry(self, what: str, call: Callable[[], T]) -> T:
        return retry_upstream(what, call, stop=self.stop)

    def _sleep(self, seconds: float) -> None:
        sleep_or_stop(self.stop, seconds)


def run(
    settings: MLSettings,
    *,
    bus: StreamBus,
    engine: Engine | None = None,
    stop: threading.Event | None = None,
    max_jobs: int | None = None,
    until_idle: bool = False,
    consumer: str | None = None,
) -> TrainerStats:
    """Run one trainer until `stop` is set (or the bound is reached)."""
    service = TrainerService(settings, bus=bus, engine=engine, stop=stop, consumer=consumer)
    return service.run(max_jobs=max_jobs, until_idle=until_idle)
