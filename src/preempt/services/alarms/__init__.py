"""Alarms service: new rows of the metrics table → rule states, transition history and
notifications (webhook, Alertmanager, Slack, email) delivered by a background worker.

Where evaluation runs, and why: a loop keyed on a metrics.id watermark (`evaluate_new_samples`),
every `alarms.interval_s` (10 s by default), as `preempt alarms` or inside `preempt up`.
- Not in the detect cycle: it runs every 10 minutes, longer than the 5-minute collect interval
  the firing latency must stay under, and a slow or failed detect (ML timeouts) would delay it.
- Not inside the store transaction: store is the pipeline's hot path and must never wait on
  rules, silences or channels; and evaluating before the store commits could fire on a sample
  that is then rolled back.
The watermark loop sees every committed sample exactly once (the cursor advances in the same
transaction that records the transitions, and is row-locked so two evaluators never overlap),
works the same embedded and distributed, and bounds latency by interval_s + one evaluation.
Deliveries go through an outbox table: a transition and its deliveries commit together, the
worker thread sends them with retry and backoff, so a slow or dead receiver delays nothing else.
"""

from preempt.services.alarms.delivery import (
    CHANNEL_SERVICE,
    DeliveryError,
    DeliveryWorker,
    backoff_s,
    build_event,
    send,
)
from preempt.services.alarms.evaluation import CycleResult, RuleCache, evaluate_new_samples
from preempt.services.alarms.service import SERVICE, AlarmService, AlarmStats, run

__all__ = [
    "CHANNEL_SERVICE",
    "SERVICE",
    "AlarmService",
    "AlarmStats",
    "CycleResult",
    "DeliveryError",
    "DeliveryWorker",
    "RuleCache",
    "backoff_s",
    "build_event",
    "evaluate_new_samples",
    "run",
    "send",
]
