"""Alarms, the pure core: rules and their states in, transitions and notification payloads out.

No I/O here (no database, HTTP, settings or clock); services/alarms.py wires it to storage and
the network.
"""

from preempt.alarms.evaluate import SampleBatch, evaluate
from preempt.alarms.model import (
    NOTIFY_STATES,
    OPERATORS,
    AlarmRule,
    RuleState,
    Transition,
    default_hysteresis,
    parse_quiet_hours,
    quiet_hours_end,
)

__all__ = [
    "NOTIFY_STATES",
    "OPERATORS",
    "AlarmRule",
    "RuleState",
    "SampleBatch",
    "Transition",
    "default_hysteresis",
    "evaluate",
    "parse_quiet_hours",
    "quiet_hours_end",
]
