"""Every stream, group and key name in one place (prefix them with `key()` for isolation)."""

from __future__ import annotations

from typing import Final

WEATHER_METRICS: Final = "weather_metrics"
WEATHER_METRICS_DEAD: Final = "weather_metrics:dead"
ML_INPUT: Final = "ml_input"
ML_INPUT_DEAD: Final = "ml_input:dead"
ML_OUTPUT: Final = "ml_output"
DETECT_JOBS: Final = "detect_jobs"

COLLECT_LOCK: Final = "lock:collect"
DETECT_LOCK: Final = "lock:detect"
HEARTBEAT: Final = "heartbeat"  # hash: service name -> ISO time of its last beat

# The single field of a stream entry that carries the JSON payload.
PAYLOAD_FIELD: Final = "data"


def key(prefix: str, name: str) -> str:
    """The Redis key for `name` under a deployment/test prefix ("" in production)."""
    return f"{prefix}{name}"

# Header of a request entry (ml_input) and of its reply (ml_output) that pairs them.
JOB_ID_FIELD: Final = "job_id"
