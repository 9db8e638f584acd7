"""Turn a Detection into anomalies: one per (series, timestamp), with the methods that flagged it,
the combined score, a severity from that score, the expected value and band, and an explanation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

import numpy as np

from preempt.detection.detector import Detection, methods_for
from preempt.detection.robust import FloatArray

# Severity from the combined score (0.5 is the decision line of every method).
SEVERITY_FLOORS: Final[tuple[tuple[float, str], ...]] = (
    (0.9, "high"),
    (0.75, "medium"),
    (0.5, "low"),
)
METHOD_ORDER: Final[tuple[str, ...]] = (
    "rules", "record", "seasonal", "consistency", "spell", "stuck", "dropout", "iforest",
    "classic",
)


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """What a row of the batch is: shown in explanations and suggestion descriptions."""

    location: str
    metric_type: str
    unit: str = ""
    label: str = ""
    location_id: int | None = None

    @property
    def name(self) -> str:
        return self.label or self.metric_type


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One flagged sample: row `series` of the batch, column `index`, at `timestamp_s` (UTC)."""

    series: int
    index: int
    timestamp_s: float
    value: float
    score: float
    severity: str
    methods: tuple[str, ...]
    expected: float
    lower: float
    upper: float
    z: float
    explanation: str


def severity_of(score: float) -> str | None:
    """"high", "medium", "low", or None below the decision line."""
    for floor, name in SEVERITY_FLOORS:
        if score >= floor:
            return name
    return None


def combine(
    detection: Detection,
    times_s: FloatArray,
    values: FloatArray,
    *,
    keys: Sequence[SeriesKey] | None = None,
) -> list[Anomaly]:
    """Anomalies of every flagged sample, ordered by series then time; one per timestamp."""
    vals = np.atleast_2d(np.asarray(values, dtype=np.float64))
    times = np.broadcast_to(np.asarray(times_s, dtype=np.float64), vals.shape)
    rows, cols = np.nonzero(detection.is_anomaly)
    used = methods_for(detection.method)
    flagged = {
        name: arr[rows, cols] >= 0.5
        for name, arr in detection.method_scores.items()
        if name in used
    }
    best: dict[tuple[int, float], Anomaly] = {}
    for i, (r, c) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        score = float(detection.score[r, c])
        methods = tuple(m for m in METHOD_ORDER if m in flagged and flagged[m][i])
        key = keys[r] if keys is not None else None
        anomaly = Anomaly(
            series=r,
            index=c,
            timestamp_s=float(times[r, c]),
            value=float(vals[r, c]),
            score=round(score, 4),
            severity=severity_of(score) or "low",
            methods=methods,
            expected=float(detection.expected[r, c]),
            lower=float(detection.lower[r, c]),
            upper=float(detection.upper[r, c]),
            z=float(detection.z[r, c]),
            explanation="",
        )
        anomaly = _explained(anomaly, key)
        slot = (r, anomaly.timestamp_s)
        if slot not in best or best[slot].score < anomaly.score:
            best[slot] = anomaly
    return sorted(best.values(), key=lambda a: (a.series, a.timestamp_s))


def explain(anomaly: Anomaly, key: SeriesKey | None = None) -> str:
    """A sentence a person can read: observed value, usual range at that hour, how unusual, who."""
    unit = f" {key.unit}" if key and key.unit else ""
    what = key.name if key else "Value"
    where = f" in {key.location}" if key and key.location else ""
    hour = datetime.fromtimestamp(anomaly.timestamp_s, UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"{what}{where} was {_fmt(anomaly.value)}{unit} at {hour}"]
    if np.isfinite(anomaly.lower) and np.isfinite(anomaly.upper):
        parts.append(
            f"usual range for this place and hour {_fmt(anomaly.lower)} to "
            f"{_fmt(anomaly.upper)}{unit} (expected {_fmt(anomaly.expected)}{unit})"
        )
    if np.isfinite(anomaly.z) and abs(anomaly.z) < 1e5:
        side = "above" if anomaly.z > 0 else "below"
        parts.append(f"{abs(anomaly.z):.1f} robust standard deviations {side} normal")
    if "consistency" in anomaly.methods:
        parts.append("it does not agree with the temperature, dew point and humidity beside it")
    if "spell" in anomaly.methods:
        kind = "a heat wave" if anomaly.z > 0 else "a cold snap"
        parts.append(f"temperature and dew point are both far from normal the same way ({kind})")
    if "record" in anomaly.methods:
        parts.append("beyond every value of its record of a year or more")
    if "dropout" in anomaly.methods:
        parts.append("no reading arrived where the history rarely has gaps")
    if "stuck" in anomaly.methods:
        parts.append("the reading has not changed for unusually long")
    methods = ", ".join(anomaly.methods) or "combined score"
    parts.append(f"flagged by {methods} (score {anomaly.score:.2f}, {anomaly.severity})")
    return "; ".join(parts) + "."


def _explained(anomaly: Anomaly, key: SeriesKey | None) -> Anomaly:
    return replace(anomaly, explanation=explain(anomaly, key))


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"
