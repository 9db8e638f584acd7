"""Heuristic rules from SEED.md as a table, applied to every sample of a batch (no history needed).

Temperature < -40 °C or > 60 °C; humidity 0 % or 100 %; negative precipitation; wind > 200 km/h.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from preempt.detection.robust import FloatArray

Operator = Literal["<", "<=", ">", ">=", "=="]
Severity = Literal["low", "medium", "high"]

# Calibrated score given to a sample a rule flags, by the rule's severity.
SEVERITY_SCORE: Final[dict[str, float]] = {"low": 0.6, "medium": 0.8, "high": 0.95}


@dataclass(frozen=True, slots=True)
class Rule:
    """Flag a sample of `metric_type` when `value <operator> threshold` has held for the last
    `min_run` samples in a row (1: every sample on its own)."""

    metric_type: str
    operator: Operator
    threshold: float
    severity: Severity = "high"
    min_run: int = 1

    def describe(self, unit: str = "") -> str:
        unit_part = f" {unit}" if unit else ""
        return f"{self.metric_type} {self.operator} {self.threshold:g}{unit_part}"


DEFAULT_RULES: Final[tuple[Rule, ...]] = (
    Rule("temperature_2m", "<", -40.0),
    Rule("temperature_2m", ">", 60.0),
    Rule("relative_humidity_2m", "==", 0.0),
    # saturation is normal in fog and rain: a sensor reading 100 % for a whole day is not
    Rule("relative_humidity_2m", "==", 100.0, "low", min_run=24),
    Rule("precipitation", "<", 0.0),
    Rule("wind_speed_10m", ">", 200.0),
)


def apply_rules(
    rules: Sequence[Rule], metric_types: Sequence[str], values: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """(score (S, n), index of the strongest rule that fired or -1) for rows of `metric_types`."""
    if len(metric_types) != values.shape[0]:
        raise ValueError(f"{len(metric_types)} metric types for {values.shape[0]} series")
    score = np.zeros(values.shape, dtype=np.float64)
    which = np.full(values.shape, -1, dtype=np.int64)
    metrics = np.asarray(metric_types, dtype=object)
    for i, rule in enumerate(rules):
        rows = metrics == rule.metric_type
        if not rows.any():
            continue
        hit = _compare(values, rule.operator, rule.threshold)
        if rule.min_run > 1:
            hit = _held_for(hit, rule.min_run)
        hit &= rows[:, None]
        rule_score = SEVERITY_SCORE[rule.severity]
        stronger = hit & (rule_score > score)
        score = np.where(stronger, rule_score, score)
        which = np.where(stronger, i, which)
    return score, which


def _held_for(hit: npt.NDArray[np.bool_], run: int) -> npt.NDArray[np.bool_]:
    """True where `hit` has been True for the last `run` samples of the row."""
    csum = np.concatenate([np.zeros((hit.shape[0], 1)), np.cumsum(hit, axis=1)], axis=1)
    n = hit.shape[1]
    idx = np.arange(n)
    count = csum[:, idx + 1] - csum[:, np.maximum(idx + 1 - run, 0)]
    return np.asarray((count >= run) & hit, dtype=bool)


def _compare(values: FloatArray, operator: Operator, threshold: float) -> npt.NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        if operator == "<":
            return values < threshold
        if operator == "<=":
            return values <= threshold
        if operator == ">":
            return values > threshold
        if operator == ">=":
            return values >= threshold
        return np.isclose(values, threshold, rtol=0.0, atol=1e-9)
