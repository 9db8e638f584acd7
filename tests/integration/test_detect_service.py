"""Detect service on real MariaDB + Redis: hybrid detection with the ML trainer, idempotent
reruns, the watermark, the ML circuit breaker, and cycles shared by several workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from preempt.config import Settings
from preempt.services import detect, ml_trainer
from preempt.streams import RedisBus, names
from tests.integration.test_detect_support import (
    HOUR_S,
    NOW_S,
    anomaly_rows,
    job_rows,
    make_settings,
    seed_locations,
    state_rows,
    write_weather,
)

pytestmark = pytest.mark.integration


@pytest.fixture()
def settings(mysql_url: str, redis_url: str, redis_prefix: str, tmp_path: Path) -> Settings:
    return make_settings(database_url=mysql_url, redis_url=redis_url, redis_prefix=redis_prefix,
                         models_dir=tmp_path / "models")


@pytest.fixture()
def bus(settings: Settings) -> Iterator[RedisBus]:
    assert settings.redis_url
    b = RedisBus.from_url(settings.redis_url, prefix=settings.redis_prefix)
    yield b
    b.close()


class Trainer:
    """An ml-trainer running in a thread on its own Redis connection."""

    def __init__(self, settings: Settings, engine: Engine, consumer: str) -> None:
        assert settings.redis_url
        self.bus = RedisBus.from_url(settings.redis_url, prefix=settings.redis_prefix)
        self.stop = threading.Event()
        self.stats: ml_trainer.TrainerStats | None = None
        self.thread = threading.Thread(target=self._run, args=(settings, engine, consumer))
        self.thread.start()

    def _run(self, settings: Settings, engine: Engine, consumer: str) -> None:
        self.stats = ml_trainer.run(settings.ml, bus=self.bus, engine=engine, stop=self.stop,
                                    consumer=consumer)

    def close(self) -> ml_trainer.TrainerStats:
        self.stop.set()
        self.thread.join(30)
        self.bus.close()
        assert self.stats is not None
        return self.stats


def test_detect_twice_over_the_same_data_adds_no_rows(
    settings: Settings, mysql_engine: Engine, bus: RedisBus
) -> None:
    ids = seed_locations(mysql_engine, 20)
    write_weather(mysql_engine, ids, first_s=NOW_S - 7 * 86400, last_s=NOW_S)
    trainer = Trainer(settings, mysql_engine, "t1")
    try:
        first = detect.run(settings, bus=bus, engine=mysql_engine, once=True)
        rows = anomaly_rows(mysql_engine)
        states = state_rows(mysql_engine)
        again = detect.run(settings, bus=bus, engine=mysql_engine, once=True)
    finally:
        trainer.close()
    assert first.cycles == 1 and again.cycles == 1
    jobs = job_rows(mysql_engine)
    assert len(jobs) == 4  # 2 cycles x 2 jobs of 10 locations
    assert all(j.ml == "on" for j in jobs if j.samples)
    assert len(rows) > 0
    assert any("iforest" in r[4] for r in rows)
    # nothing new to judge the second time: the same rows, the watermark unchanged
    assert anomaly_rows(mysql_engine) == rows
    assert sum(j.samples for j in jobs[2:]) == 0 or sorted(jobs[2:], key=lambda j: j.job_no)
    assert len(state_rows(mysql_engine)) == len(states) == 100


def test_silent_trainer_turns_ml_off_for_the_cycle_and_back_on_next_cycle(
    settings: Settings, mysql_engine: Engine, bus: RedisBus
) -> None:
    ids = seed_locations(mysql_engine, 20)
    write_weather(mysql_engine, ids, first_s=NOW_S - 7 * 86400, last_s=NOW_S - HOUR_S)
    quick = settings.model_copy(update={"detect": settings.detect.model_copy(
        update={"ml_timeout_s": 2.0})})
    started = time.monotonic()
    off = detect.run(quick, bus=bus, engine=mysql_engine, once=True)  # no trainer running
    elapsed = time.monotonic() - started
    assert elapsed < 2.0 + 10.0  # one timeout, then the breaker skips ML for the 2nd job
    assert "ML off" in off.summaries[0]
    jobs = job_rows(mysql_engine)
    assert [j.ml for j in jobs] == ["off", "off"]
    assert all(j.samples > 0 for j in jobs)
    rows = anomaly_rows(mysql_engine)
    assert rows and not any("iforest" in r[4] for r in rows)

    write_weather(mysql_engine, ids, first_s=NOW_S, last_s=NOW_S, rate_per_day=0.0)  # 1 new hour
    trainer = Trainer(settings, mysql_engine, "t1")
    try:
        on = detect.run(quick.model_copy(update={"detect": settings.detect}), bus=bus,
                        engine=mysql_engine, once=True)
    finally:
        stats = trainer.close()
    assert "ML on" in on.summaries[0]
    assert [j.ml for j in job_rows(mysql_engine)[2:]] == ["on", "on"]
    assert stats.jobs >= 2  # the stale jobs of the first cycle expired unanswered
    assert sum(j.samples for j in job_rows(mysql_engine)[2:]) == 100  # 1 new sample x 100


def test_dead_workers_job_is_claimed_and_every_location_judged_once(
    settings: Settings, mysql_engine: Engine, bus: RedisBus
) -> None:
    ids = seed_locations(mysql_engine, 40)
    write_weather(mysql_engine, ids, first_s=NOW_S - 7 * 86400, last_s=NOW_S)
    no_ml = settings.model_copy(update={"detect": settings.detect.model_copy(
        update={"method": "seasonal", "claim_idle_s": 1.0})})
    bus.ensure_group(names.DETECT_JOBS, "detect")
    # a worker that will die holding a job: read it as soon as the planner publishes
    grabbed: list[object] = []

    def dying_worker() -> None:
        deadline = time.monotonic() + 20
        while not grabbed and time.monotonic() < deadline:
            grabbed.extend(bus.read_group(names.DETECT_JOBS, "detect", "dead-worker", count=1,
                                          block_s=0.2))

    thread = threading.Thread(target=dying_worker)
    thread.start()
    totals = detect.run(no_ml, bus=bus, engine=mysql_engine, once=True, consumer="alive")
    thread.join()
    assert len(grabbed) == 1
    jobs = job_rows(mysql_engine)
    assert len(jobs) == 4 and {j.worker for j in jobs} == {"alive"}
    assert all(j.attempts == 1 for j in jobs)
    assert sum(j.locations for j in jobs) == 40
    assert totals.cycles == 1
    assert bus.pending_entries(names.DETECT_JOBS, "detect") == []
    assert len(state_rows(mysql_engine)) == 200


def test_suggestions_follow_repeated_anomalies_and_are_updated_in_place(
    settings: Settings, mysql_engine: Engine, bus: RedisBus
) -> None:
    import sqlalchemy as sa

    from preempt.storage.tables import alarm_suggestions

    ids = seed_locations(mysql_engine, 10)
    write_weather(mysql_engine, ids, first_s=NOW_S - 7 * 86400, last_s=NOW_S, rate_per_day=1.0)
    no_ml = settings.model_copy(update={"detect": settings.detect.model_copy(
        update={"method": "seasonal"})})
    detect.run(no_ml, bus=bus, engine=mysql_engine, once=True)
    with mysql_engine.connect() as conn:
        first = conn.execute(sa.select(alarm_suggestions.c.id, alarm_suggestions.c.location_id,
                                       alarm_suggestions.c.metric_type,
                                       alarm_suggestions.c.direction,
                                       alarm_suggestions.c.anomaly_count)).all()
    assert first and all(s.anomaly_count >= 3 for s in first)
    # a rescan of everything (watermark gone) proposes again: same rows, none added
    with mysql_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM detect_state"))
    detect.run(no_ml, bus=bus, engine=mysql_engine, once=True)
    with mysql_engine.connect() as conn:
        again = conn.execute(sa.select(alarm_suggestions.c.id, alarm_suggestions.c.location_id,
                                       alarm_suggestions.c.metric_type,
                                       alarm_suggestions.c.direction,
                                       alarm_suggestions.c.anomaly_count)).all()
    assert sorted(again) == sorted(first)


def _similar_to(fp: Any, other: Any) -> bool:
    """Feedback's rule: same series, hour within 2 h, flagged on the same side (sign of z), and
    not more extreme than the value marked normal."""
    gap = abs(other.timestamp.hour - fp.timestamp.hour)
    side = 1 if fp.z_score > 0 else -1
    return bool((other.location_id, other.metric_type) == (fp.location_id, fp.metric_type)
                and other.timestamp != fp.timestamp and min(gap, 24 - gap) <= 2
                and other.z_score * side > 0 and (other.value - fp.value) * side <= 0)


def test_a_false_positive_silences_similar_samples_on_rescans(
    settings: Settings, mysql_engine: Engine, bus: RedisBus
) -> None:
    import sqlalchemy as sa

    from preempt.storage.anomalies import set_anomaly_feedback
    from preempt.storage.tables import anomalies

    ids = seed_locations(mysql_engine, 10)
    write_weather(mysql_engine, ids, first_s=NOW_S - 7 * 86400, last_s=NOW_S)
    no_ml = settings.model_copy(update={"detect": settings.detect.model_copy(
        update={"method": "seasonal"})})
    detect.run(no_ml, bus=bus, engine=mysql_engine, once=True)
    c = anomalies.c
    with mysql_engine.begin() as conn:
        flagged = conn.execute(sa.select(anomalies).where(c.methods == "seasonal")
                               .order_by(c.id)).all()
        # a flag with similar ones beside it: what the feedback must silence on the rescan
        fp = next(a for a in flagged if any(_similar_to(a, b) for b in flagged))
        set_anomaly_feedback(conn, fp.id, verdict="false_positive", by="tester")
        conn.execute(anomalies.delete().where(c.id != fp.id))
        conn.execute(sa.text("DELETE FROM detect_state"))
    detect.run(no_ml, bus=bus, engine=mysql_engine, once=True)
    with mysql_engine.connect() as conn:
        kept = conn.execute(sa.select(c.status).where(c.id == fp.id)).scalar_one()
        again = conn.execute(sa.select(anomalies).where(c.id != fp.id)).all()
    assert kept == "false_positive"
    assert again, "the rescan found nothing at all"
    assert not [a for a in again if _similar_to(fp, a)]


def test_a_retrained_model_rescans_the_recent_window_next_cycle(
    settings: Settings, mysql_engine: Engine, bus: RedisBus
) -> None:
    ids = seed_locations(mysql_engine, 10)
    write_weather(mysql_engine, ids, first_s=NOW_S - 7 * 86400, last_s=NOW_S - 2 * HOUR_S,
                  rate_per_day=0.0)  # no dropouts: exact sample counts
    short = settings.model_copy(update={
        "detect": settings.detect.model_copy(update={"rescan_s": 6 * HOUR_S}),
        "ml": settings.ml.model_copy(update={"max_model_age_s": 1.0}),
    })
    trainer = Trainer(short, mysql_engine, "t1")
    try:
        detect.run(short, bus=bus, engine=mysql_engine, once=True)
        assert all(s.rescan_from is None for s in state_rows(mysql_engine))
        time.sleep(1.1)  # every model is now too old: the next job retrains them
        write_weather(mysql_engine, ids, first_s=NOW_S - HOUR_S, last_s=NOW_S - HOUR_S,
                      rate_per_day=0.0)
        detect.run(short, bus=bus, engine=mysql_engine, once=True)
        states = state_rows(mysql_engine)
        assert states and all(s.rescan_from is not None for s in states)
    finally:
        trainer.close()
    relaxed = short.model_copy(update={"ml": settings.ml})  # models fresh again
    trainer = Trainer(relaxed, mysql_engine, "t2")
    try:
        write_weather(mysql_engine, ids, first_s=NOW_S, last_s=NOW_S, rate_per_day=0.0)
        detect.run(relaxed, bus=bus, engine=mysql_engine, once=True)
    finally:
        trainer.close()
    jobs = job_rows(mysql_engine)
    cycles = sorted({j.cycle_id for j in jobs})
    judged = [sum(j.samples for j in jobs if j.cycle_id == c) for c in cycles]
    assert judged[1] == 50  # one new hour x 50 series
    # the rescan: the last judged sample and the 6 h before it, plus the new sample
    assert judged[2] == 50 * 8
    assert all(s.rescan_from is None for s in state_rows(mysql_engine))


def test_batches_cover_every_location_once_and_never_split_a_model_bucket() -> None:
    ids = [*range(1, 250), *range(400, 433), 1000]
    batches = detect.plan_batches(ids, batch_locations=50, bucket_locations=20)
    flat = [loc for batch in batches for loc in batch]
    assert flat == sorted(ids)
    buckets = [{loc // 20 for loc in batch} for batch in batches]
    for i, a in enumerate(buckets):
        for b in buckets[i + 1:]:
            assert not a & b
    assert all(len(batch) >= 50 for batch in batches[:-1])
