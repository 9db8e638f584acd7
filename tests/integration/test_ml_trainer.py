"""ml-trainer on real Redis: jobs answered then acked, a dead worker's job claimed, poison
dead-lettered with an error reply, models persisted and reused while fresh, retrained when old."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from preempt.config import MLSettings
from preempt.services import ml_trainer
from preempt.streams import RedisBus, names
from preempt.streams.messages import MLJob, MLResult, scored_mask
from tests.integration.test_detect_support import HOUR_S, METRICS, NOW_S

pytestmark = pytest.mark.integration
# the jobs' last sample: 09:00 UTC yesterday, not the current hour, so that the daily sine of
# make_job meets the forest's hour-of-day features the same way whenever the suite runs (from
# the clock's hour the spike's margin over its series ranged from 4x to 47x)
END_S = NOW_S - NOW_S % 86400 - 15 * HOUR_S


@pytest.fixture()
def bus(redis_url: str, redis_prefix: str) -> Iterator[RedisBus]:
    b = RedisBus.from_url(redis_url, prefix=redis_prefix)
    yield b
    b.close()


def ml_settings(tmp_path: Path, **changes: object) -> MLSettings:
    base: dict[str, object] = {"models_dir": tmp_path / "models", "block_s": 0.1,
                               "claim_idle_s": 0.5, "bucket_locations": 10}
    base.update(changes)
    return MLSettings(**base)  # type: ignore[arg-type]


def make_job(job_id: str, *, locations: int = 3, spike: bool = True, shift: float = 0.0,
             deadline_s: float | None = None) -> MLJob:
    times = np.arange(END_S - 7 * 86400, END_S + 1, HOUR_S, dtype=np.float64)
    rng = np.random.default_rng(5)
    rows = []
    for loc in range(locations):
        for k, _ in enumerate(METRICS):
            daily = 10 * np.sin(2 * np.pi * times / 86400 + loc + k)
            rows.append(20 + shift + daily + rng.normal(0, 0.5, times.size))
    values = np.array(rows)
    if spike:
        values[0, -1] += 30.0
    split = np.full(values.shape[0], END_S - 6 * HOUR_S)
    return MLJob.from_arrays(
        job_id=job_id, cycle_id="c1",
        location_ids=[loc + 1 for loc in range(locations) for _ in METRICS],
        metric_types=[m for _ in range(locations) for m in METRICS],
        times_s=np.broadcast_to(times, values.shape).copy(), values=values,
        split_s=split, deadline_s=deadline_s or time.time() + 600,
    )


def publish(bus: RedisBus, job: MLJob) -> None:
    bus.add(names.ML_INPUT, job.encode(), headers={names.JOB_ID_FIELD: job.job_id})


def results(bus: RedisBus) -> dict[str, MLResult]:
    return {e.headers[names.JOB_ID_FIELD]: MLResult.decode(e.payload)
            for e in bus.entries(names.ML_OUTPUT)}


def test_trainer_answers_scores_the_new_samples_and_acks(bus: RedisBus, tmp_path: Path) -> None:
    job = make_job("j1")
    publish(bus, job)
    stats = ml_trainer.run(ml_settings(tmp_path), bus=bus, until_idle=True, consumer="w1")
    result = results(bus)["j1"]
    times, _ = job.arrays()
    mask = scored_mask(times, np.asarray(job.split_s))
    assert result.ok and result.count == int(mask.sum()) == 15 * 7
    scores = result.score_array()
    # the spike (last sample of the first series) stands out of its series
    assert scores[6] > 0.4 and scores[6] > 5 * float(scores[:6].max())
    assert float(np.median(scores)) < 0.2
    assert stats.jobs == 1 and stats.trained == 15
    info = bus.group_info(names.ML_INPUT, "ml-trainer")
    assert info is not None and info.pending == 0


def test_job_of_a_killed_trainer_is_claimed_by_another(bus: RedisBus, tmp_path: Path) -> None:
    settings = ml_settings(tmp_path)
    bus.ensure_group(names.ML_INPUT, settings.group)
    publish(bus, make_job("j-killed"))
    # worker "dead" read the job and died mid-job: no reply, no ack
    taken = bus.read_group(names.ML_INPUT, settings.group, "dead", count=1, block_s=0.1)
    assert len(taken) == 1
    time.sleep(0.6)
    stats = ml_trainer.run(settings, bus=bus, until_idle=True, consumer="alive")
    assert stats.claimed == 1 and stats.jobs == 1
    assert results(bus)["j-killed"].ok
    assert bus.pending_entries(names.ML_INPUT, settings.group) == []


def test_malformed_job_is_dead_lettered_and_answered(bus: RedisBus, tmp_path: Path) -> None:
    bus.add(names.ML_INPUT, b'{"v": 1, "job_id": "bad"', headers={names.JOB_ID_FIELD: "bad"})
    good = make_job("good")
    publish(bus, good)
    stats = ml_trainer.run(ml_settings(tmp_path), bus=bus, until_idle=True, consumer="w1")
    replies = results(bus)
    assert not replies["bad"].ok and "not JSON" in (replies["bad"].error or "")
    assert replies["good"].ok
    dead = bus.entries(names.ML_INPUT_DEAD)
    assert len(dead) == 1 and dead[0].headers[names.JOB_ID_FIELD] == "bad"
    assert "not JSON" in dead[0].headers["reason"]
    assert stats.dead_letters == 1 and stats.jobs == 1
    assert bus.pending_entries(names.ML_INPUT, "ml-trainer") == []


def test_expired_job_is_skipped_with_an_answer(bus: RedisBus, tmp_path: Path) -> None:
    publish(bus, make_job("late", deadline_s=time.time() - 1))
    stats = ml_trainer.run(ml_settings(tmp_path), bus=bus, until_idle=True, consumer="w1")
    assert results(bus)["late"].error == "expired"
    assert stats.expired == 1 and stats.trained == 0


def test_models_persist_across_restart_and_are_reused_while_fresh(
    bus: RedisBus, tmp_path: Path
) -> None:
    settings = ml_settings(tmp_path)
    publish(bus, make_job("first"))
    first = ml_trainer.run(settings, bus=bus, until_idle=True, consumer="w1")
    files = sorted(p.name for p in (tmp_path / "models").iterdir())
    assert first.trained == 15 and files == ["iforest-b0000000.v1.joblib"]
    mtime = (tmp_path / "models" / files[0]).stat().st_mtime
    # a new trainer process (empty memory) reuses the files
    publish(bus, make_job("second"))
    second = ml_trainer.run(settings, bus=bus, until_idle=True, consumer="w2")
    assert second.trained == 0
    replies = results(bus)
    assert replies["second"].fitted_at_s == replies["first"].fitted_at_s
    assert (tmp_path / "models" / files[0]).stat().st_mtime == mtime
    # the data's level moved far: retrained
    publish(bus, make_job("shifted", shift=25.0))
    third = ml_trainer.run(settings, bus=bus, until_idle=True, consumer="w3")
    assert third.trained == 15
    assert results(bus)["shifted"].fitted_at_s[0] > replies["first"].fitted_at_s[0]


def test_models_older_than_max_age_are_retrained(bus: RedisBus, tmp_path: Path) -> None:
    publish(bus, make_job("a"))
    ml_trainer.run(ml_settings(tmp_path), bus=bus, until_idle=True, consumer="w1")
    time.sleep(1.1)
    publish(bus, make_job("b"))
    stats = ml_trainer.run(ml_settings(tmp_path, max_model_age_s=1.0), bus=bus,
                           until_idle=True, consumer="w2")
    assert stats.trained == 15
