"""Storage records to the JSON of schemas.py, serialised with orjson (the hot read paths skip a
second pydantic pass; tests validate these dicts against the response models)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response

from preempt.domain import METRIC_UNITS
from preempt.storage.anomalies import AnomalyRecord
from preempt.storage.suggestions import SuggestionRecord


def json_response(payload: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status_code,
                    media_type="application/json")


def anomaly_dict(a: AnomalyRecord) -> dict[str, Any]:
    feedback = None
    if a.feedback_by is not None and a.feedback_at is not None:
        feedback = {"by": a.feedback_by, "at": a.feedback_at, "note": a.feedback_note}
    return {
        "id": a.id, "location": a.location, "location_id": a.location_id,
        "metric_type": a.metric_type, "unit": METRIC_UNITS.get(a.metric_type, ""),
        "timestamp": a.timestamp, "value": a.value, "expected": a.expected, "lower": a.lower,
        "upper": a.upper, "z_score": a.z_score, "score": a.score, "severity": a.severity,
        "methods": list(a.methods), "explanation": a.explanation, "status": a.status,
        "feedback": feedback, "detected_at": a.detected_at, "updated_at": a.updated_at,
    }


def suggestion_dict(s: SuggestionRecord) -> dict[str, Any]:
    decision = None
    if s.decided_by is not None and s.decided_at is not None:
        decision = {"by": s.decided_by, "at": s.decided_at, "reason": s.dismiss_reason}
    return {
        "id": s.id, "location": s.location, "location_id": s.location_id,
        "metric_type": s.metric_type, "unit": METRIC_UNITS.get(s.metric_type, ""),
        "direction": s.direction, "operator": s.operator, "threshold": s.threshold,
        "confidence": s.confidence, "description": s.description,
        "anomaly_count": s.anomaly_count,
        "backtest": {
            "caught": s.caught, "missed": s.missed, "false_fires": s.false_fires,
            "fires_per_week": s.fires_per_week, "percentile": s.percentile,
            "persistence_k": s.persistence_k, "persistence_n": s.persistence_n,
        },
        "status": s.status, "decision": decision, "suggested_at": s.suggested_at,
        "updated_at": s.updated_at,
    }
