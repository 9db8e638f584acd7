"""The writers the detect service calls: idempotent, never overwrite users' decisions."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from preempt.domain import Anomaly, NewLocation, Suggestion
from preempt.storage.anomalies import list_anomalies, set_anomaly_feedback, upsert_anomalies
from preempt.storage.locations import insert_locations, list_locations
from preempt.storage.suggestions import (
    decide_suggestion,
    list_suggestions,
    upsert_suggestions,
)

from .test_api_support import NOW


def _location(engine: Engine) -> int:
    with engine.begin() as conn:
        insert_locations(conn, [NewLocation("Lisbon", 38.7, -9.1)])
        return list_locations(conn)[0].id


def _anomaly(loc: int, hours: int, score: float = 0.5) -> Anomaly:
    return Anomaly(loc, "temperature_2m", NOW - timedelta(hours=hours), 35.0, score, "medium",
                   ("seasonal",), "warm")


def _suggestion(loc: int, threshold: float, metric: str = "temperature_2m") -> Suggestion:
    return Suggestion(loc, metric, "above", ">", threshold, 0.7, f"above {threshold}", 3)


def test_rescan_adds_no_duplicates_and_counts_only_new(engine: Engine) -> None:
    loc = _location(engine)
    with engine.begin() as conn:
        assert upsert_anomalies(conn, [_anomaly(loc, 1), _anomaly(loc, 2)]) == 2
    with engine.begin() as conn:
        assert upsert_anomalies(conn, [_anomaly(loc, 1, 0.9), _anomaly(loc, 3)]) == 1
        rows = list_anomalies(conn, loc, limit=10)
    assert len(rows) == 3
    assert next(r for r in rows if r.timestamp.replace(tzinfo=None) == NOW - timedelta(hours=1)
                ).score == 0.9


def test_rescan_keeps_users_feedback(engine: Engine) -> None:
    loc = _location(engine)
    with engine.begin() as conn:
        upsert_anomalies(conn, [_anomaly(loc, 1)])
        first = list_anomalies(conn, loc, limit=1)[0]
        set_anomaly_feedback(conn, first.id, verdict="false_positive", by="eddie", note="x")
    with engine.begin() as conn:
        assert upsert_anomalies(conn, [_anomaly(loc, 1, 0.99)]) == 0
        again = list_anomalies(conn, loc, limit=1)[0]
    assert again.status == "false_positive" and again.feedback_by == "eddie"
    assert again.feedback_note == "x" and again.score == 0.99


def test_suggestions_one_live_per_direction_updated_in_place(engine: Engine) -> None:
    loc = _location(engine)
    with engine.begin() as conn:
        assert upsert_suggestions(conn, [_suggestion(loc, 30.0)]) == (1, 0)
    with engine.begin() as conn:
        assert upsert_suggestions(conn, [_suggestion(loc, 30.0)]) == (0, 0)  # unchanged
        assert upsert_suggestions(conn, [_suggestion(loc, 31.0)]) == (0, 1)
        rows = list_suggestions(conn, loc, limit=10)
    assert len(rows) == 1 and rows[0].threshold == 31.0


def test_dismissed_comes_back_only_after_a_big_change(engine: Engine) -> None:
    loc = _location(engine)
    with engine.begin() as conn:
        upsert_suggestions(conn, [_suggestion(loc, 30.0)])
        sid = list_suggestions(conn, loc, limit=1)[0].id
        decide_suggestion(conn, sid, status="dismissed", by="eddie", reason="noisy")
    with engine.begin() as conn:
        assert upsert_suggestions(conn, [_suggestion(loc, 32.0)]) == (0, 0)
        assert list_suggestions(conn, loc, limit=1)[0].status == "dismissed"
        assert upsert_suggestions(conn, [_suggestion(loc, 40.0)]) == (0, 1)
        back = list_suggestions(conn, loc, limit=1)[0]
    assert back.status == "open" and back.threshold == 40.0 and back.dismiss_reason is None


def test_accepted_suggestion_is_left_alone(engine: Engine) -> None:
    loc = _location(engine)
    with engine.begin() as conn:
        upsert_suggestions(conn, [_suggestion(loc, 30.0)])
        sid = list_suggestions(conn, loc, limit=1)[0].id
        decide_suggestion(conn, sid, status="accepted", by="eddie")
        assert upsert_suggestions(conn, [_suggestion(loc, 50.0)]) == (0, 0)
        kept = list_suggestions(conn, loc, limit=1)[0]
    assert kept.status == "accepted" and kept.threshold == 30.0 and kept.decided_by == "eddie"
