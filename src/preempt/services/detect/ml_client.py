"""Detect's side of SEED.md's Communication Flow: ML jobs to ml_input, results from ml_output.

Jobs are published before detect computes its statistical part (the trainer works meanwhile)
and collected afterwards by job id. Circuit breaker: when a request is not fully answered within
`timeout_s`, ML is off for the rest of that cycle (statistical + rule results are stored) and
tried again at the next cycle.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from preempt.errors import InvalidMessage, UpstreamError
from preempt.streams import StreamBus, names
from preempt.streams.messages import MLJob, MLResult

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class MLRequest:
    """Jobs in flight for one batch: job id -> rows of the batch it covers."""

    rows: dict[str, IntArray]
    cursor: str
    deadline_s: float
    started_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class MLAnswer:
    """Results that came back (job id -> result) and whether some never did."""

    results: dict[str, MLResult]
    timed_out: bool
    asked: int

    @property
    def state(self) -> str:
        ok = sum(1 for r in self.results.values() if r.ok)
        if self.asked == 0:
            return "none"
        if ok == self.asked:
            return "on"
        return "off" if ok == 0 else "partial"


class MLClient:
    """Publishes ML jobs and collects their results, with a per-cycle circuit breaker."""

    def __init__(
        self,
        bus: StreamBus,
        *,
        timeout_s: float,
        clock: Callable[[], float] = time.time,
        poll_block_s: float = 0.5,
    ) -> None:
        self.bus = bus
        self.timeout_s = timeout_s
        self.clock = clock
        self.poll_block_s = poll_block_s
        self.cycle_id: str | None = None
        self.broken = False

    def enter_cycle(self, cycle_id: str) -> None:
        """A new cycle closes the breaker again: ML is tried anew."""
        if cycle_id != self.cycle_id:
            self.cycle_id = cycle_id
            self.broken = False

    def submit(
        self,
        *,
        cycle_id: str,
        groups: Sequence[IntArray],
        location_ids: IntArray,
        metric_types: Sequence[str],
        times_s: FloatArray,
        values: FloatArray,
        split_s: FloatArray,
    ) -> MLRequest | None:
        """Publish one ML job per group of rows; None while the breaker is open."""
        if self.broken or not groups:
            return None
        deadline = self.clock() + self.timeout_s
        rows: dict[str, IntArray] = {}
        payloads: list[bytes] = []
        for group in groups:
            job_id = f"{cycle_id}-{secrets.token_hex(6)}"
            width = _width(times_s[group])
            job = MLJob.from_arrays(
                job_id=job_id, cycle_id=cycle_id,
                location_ids=[int(x) for x in location_ids[group]],
                metric_types=[metric_types[i] for i in group.tolist()],
                times_s=times_s[group, :width], values=values[group, :width],
                split_s=split_s[group], deadline_s=deadline,
            )
            rows[job_id] = group
            payloads.append(job.encode())
        try:
            cursor = self.bus.last_id(names.ML_OUTPUT)  # before publishing: no reply is missed
            self.bus.add_many(names.ML_INPUT, payloads,
                              headers=[{names.JOB_ID_FIELD: j} for j in rows])
        except UpstreamError as exc:
            self.broken = True
            logger.warning("ML off for the rest of cycle %s: cannot publish ML jobs: %s",
                           self.cycle_id, exc)
            return None
        return MLRequest(rows=rows, cursor=cursor, deadline_s=deadline)

    def collect(
        self, request: MLRequest | None, *, should_stop: Callable[[], bool] | None = None
    ) -> MLAnswer:
        """Wait for the request's results until its deadline; a miss opens the breaker."""
        if request is None:
            return MLAnswer({}, timed_out=False, asked=0)
        wanted = set(request.rows)
        results: dict[str, MLResult] = {}
        cursor = request.cursor
        stopped = False
        while wanted and (left := request.deadline_s - self.clock()) > 0:
            if should_stop is not None and should_stop():
                stopped = True
                break
            try:
                entries = self.bus.read(names.ML_OUTPUT, after_id=cursor, count=1000,
                                        block_s=min(left, self.poll_block_s))
            except UpstreamError as exc:
                logger.warning("reading ML results failed: %s", exc)
                time.sleep(min(left, self.poll_block_s))
                continue
            for entry in entries:
                cursor = entry.id
                job_id = entry.headers.get(names.JOB_ID_FIELD, "")
                if job_id not in wanted:
                    continue
                wanted.discard(job_id)
                try:
                    results[job_id] = MLResult.decode(entry.payload)
                except InvalidMessage as exc:
                    logger.error("unreadable ML result for job %s: %s", job_id, exc)
        for job_id, result in results.items():
            if not result.ok:
                logger.warning("ML job %s failed on the trainer: %s", job_id, result.error)
        if wanted and stopped:
            logger.info("stopping: not waiting for %d ML results", len(wanted))
        elif wanted:
            self.broken = True
            logger.warning(
                "ML off for the rest of cycle %s: %d of %d ML jobs got no answer within %.0fs "
                "(storing statistical and rule results; ML is tried again next cycle)",
                self.cycle_id, len(wanted), len(request.rows), self.timeout_s,
            )
        return MLAnswer(results, timed_out=bool(wanted), asked=len(request.rows))


def merge_scores(
    answer: MLAnswer,
    request: MLRequest | None,
    *,
    times_s: FloatArray,
    split_s: FloatArray,
) -> tuple[FloatArray | None, FloatArray]:
    """(iforest scores (S, n) or None when no result came back, model fitted_at per row (NaN))."""
    fitted = np.full(times_s.shape[0], np.nan)
    if request is None:
        return None, fitted
    scores = np.zeros(times_s.shape)
    used = False
    for job_id, result in answer.results.items():
        rows = request.rows.get(job_id)
        if rows is None or not result.ok:
            continue
        with np.errstate(invalid="ignore"):
            mask = np.isfinite(times_s[rows]) & (times_s[rows] >= split_s[rows][:, None])
        values = result.score_array()
        if values.size != int(mask.sum()) or len(result.fitted_at_s) != len(rows):
            logger.error("ML result of job %s does not match its job: ignored", job_id)
            continue
        block = np.zeros(mask.shape)
        block[mask] = values
        scores[rows] = block
        fitted[rows] = np.asarray(result.fitted_at_s, dtype=np.float64)
        used = True
    return (scores if used else None), fitted


def _width(times_s: FloatArray) -> int:
    """Columns actually used by these rows (rows are NaN-padded at the end)."""
    finite = np.isfinite(times_s)
    if not finite.any():
        return 0
    used = np.asarray(finite.any(axis=0), dtype=bool)
    return int(used.shape[0] - int(np.argmax(used[::-1])))
