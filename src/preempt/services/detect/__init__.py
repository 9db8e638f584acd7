"""Detect service: metrics table → anomalies and alarm suggestions, every 10 minutes.

`run(settings, bus=..., engine=..., stop=..., once=..., max_cycles=..., until_idle=...)` runs
one detect process (planner under the lock, worker in the detect_jobs group); `judge` holds one
job's pipeline, `ml_client` the ml_input/ml_output exchange with its circuit breaker.
"""

from preempt.services.detect.judge import JobContext, judge_locations
from preempt.services.detect.ml_client import MLClient
from preempt.services.detect.service import (
    DetectService,
    DetectTotals,
    plan_batches,
    run,
    summary_line,
)

__all__ = [
    "DetectService",
    "DetectTotals",
    "JobContext",
    "MLClient",
    "judge_locations",
    "plan_batches",
    "run",
    "summary_line",
]
