"""Fallback filler for the e2e database: the emulator's weather model and anomaly injector
written through the storage writers, used only while `preempt collect`/`detect` do not exist.

Samples: hourly, `days` days up to now, for the first `n_locations` seeded locations.
Anomalies: the injector's labelled samples that stand out from the clean weather (value,
expected = clean value, band = expected ± a metric scale). Suggestions: one per
(location, metric, direction) with 3+ anomalies, threshold just inside the anomalous values.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import sqlalchemy as sa

from preempt.domain import (
    DEFAULT_MONITORED_FIELDS,
    METRIC_LABELS,
    METRIC_UNITS,
    Anomaly,
    Sample,
    Suggestion,
)
from preempt.simulation import AnomalyConfig, inject_anomalies, simulate_weather
from preempt.storage.anomalies import upsert_anomalies
from preempt.storage.engine import create_engine_for
from preempt.storage.heartbeats import record_heartbeat
from preempt.storage.locations import list_locations
from preempt.storage.metrics import write_samples
from preempt.storage.suggestions import upsert_suggestions

# Typical natural spread per metric (its unit): the half-width of the drawn "expected" band.
BAND = {
    "temperature_2m": 3.5,
    "relative_humidity_2m": 12.0,
    "precipitation": 1.5,
    "wind_speed_10m": 9.0,
    "dew_point_2m": 3.0,
}
SEED = 7


def fill(
    database_url: str,
    *,
    n_locations: int = 60,
    days: int = 8,
    rate_per_day: float = 0.5,
    must_have: tuple[str, ...] = (),
) -> dict[str, int]:
    """Write samples, anomalies, suggestions and heartbeats; returns row counts."""
    engine = create_engine_for(database_url)
    with engine.begin() as conn:
        everyone = list_locations(conn)
    chosen = [loc for loc in everyone if loc.name in must_have]
    chosen += [loc for loc in everyone[:n_locations] if loc.name not in must_have]
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    times = np.array(
        [int((now - timedelta(hours=h)).timestamp()) for h in range(days * 24, -1, -1)],
        dtype=np.int64,
    )
    lat = np.array([loc.latitude for loc in chosen])
    lon = np.array([loc.longitude for loc in chosen])
    clean = simulate_weather(lat, lon, times, seed=SEED)
    metrics = [m for m in DEFAULT_MONITORED_FIELDS if m in clean]
    inj = inject_anomalies(
        lat,
        lon,
        times,
        {m: clean[m] for m in metrics},
        seed=SEED,
        config=AnomalyConfig(rate_per_day=rate_per_day),
    )
    stamp = [datetime.fromtimestamp(int(t), UTC).replace(tzinfo=None) for t in times]

    samples: list[Sample] = []
    found: list[Anomaly] = []
    for m in metrics:
        vals, base, mask = inj.values[m], clean[m], inj.masks[m]
        for i, loc in enumerate(chosen):
            in_run = 0  # anomalies kept in the current labelled run: at most 3 per event
            for j in range(len(times)):
                in_run = in_run if mask[i, j] else 0
                v = float(vals[i, j])
                if math.isnan(v):
                    continue
                samples.append(Sample(loc.id, m, stamp[j], v))
                dev = (v - float(base[i, j])) / BAND[m]
                if not mask[i, j] or abs(dev) < 1.2 or in_run >= 3:
                    continue
                in_run += 1
                score = min(1.0, 0.45 + 0.12 * abs(dev))
                severity = "high" if score >= 0.8 else "medium" if score >= 0.6 else "low"
                methods = ("seasonal", "iforest") if score >= 0.6 else ("seasonal",)
                word = "above" if dev > 0 else "below"
                found.append(
                    Anomaly(
                        location_id=loc.id,
                        metric_type=m,
                        timestamp=stamp[j],
                        value=v,
                        score=round(score, 3),
                        severity=severity,
                        methods=methods,
                        explanation=(
                            f"{METRIC_LABELS[m]} {v:.1f} {METRIC_UNITS[m]} is {abs(dev):.1f}"
                            f" bands {word} the usual {float(base[i, j]):.1f} for this hour"
                        ),
                        z_score=round(dev * 2, 2),
                        expected=round(float(base[i, j]), 2),
                        lower=round(float(base[i, j]) - BAND[m], 2),
                        upper=round(float(base[i, j]) + BAND[m], 2),
                    )
                )

    groups: dict[tuple[int, str, str], list[Anomaly]] = defaultdict(list)
    for a in found:
        direction = "above" if (a.value >= (a.expected or 0.0)) else "below"
        groups[(a.location_id, a.metric_type, direction)].append(a)
    proposals: list[Suggestion] = []
    names = {loc.id: loc.name for loc in chosen}
    for (loc_id, m, direction), group in groups.items():
        if len(group) < 3:
            continue
        values = sorted(a.value for a in group)
        threshold = round(values[0] - 0.1 if direction == "above" else values[-1] + 0.1, 1)
        caught = len(group)
        proposals.append(
            Suggestion(
                location_id=loc_id,
                metric_type=m,
                direction=direction,
                operator=">" if direction == "above" else "<",
                threshold=threshold,
                confidence=round(min(0.95, 0.55 + 0.05 * caught), 2),
                description=(
                    f"{METRIC_LABELS[m]} {direction} {threshold} {METRIC_UNITS[m]} in "
                    f"{names[loc_id]}: {caught} unusual readings in the last {days} days"
                ),
                anomaly_count=caught,
                caught=caught,
                missed=1,
                false_fires=0,
                fires_per_week=round(caught * 7 / days, 2),
            )
        )

    with engine.begin() as conn:
        write_samples(conn, samples)
        upsert_anomalies(conn, found)
        upsert_suggestions(conn, proposals)
        for service in ("collect", "store", "detect"):
            record_heartbeat(
                conn,
                service,
                instance=f"e2e-{service}",
                info={"source": "simulated", "filled_by": "storage writers"},
            )
        counts = {
            t: int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one())
            for t in ("metrics", "anomalies", "alarm_suggestions")
        }
    engine.dispose()
    return counts


if __name__ == "__main__":
    import os
    import sys

    print(json.dumps(fill(os.environ["PREEMPT_DATABASE_URL"], must_have=tuple(sys.argv[1:]))))
