"""Detection speed: hybrid (seasonal + consistency + rules + Isolation Forest) training and
scoring for 892 and 10,000 locations x 5 metrics hourly, next to the classic SEED.md approach
(z-score + a scikit-learn IsolationForest trained per location per metric every cycle, on 7 days)
measured in the same run. Prints JSON.

    .venv/bin/python bench/bench_detection.py [--locations 892 10000] [--jobs 2] [--history-days 14]

The hybrid detector's history is the seasonal window the live service loads (two weeks by
default, `--history-days` to change).

The series are synthetic (diurnal cycle, weather-like random walk, noise): the cost of detection
does not depend on the values. Batches of 500 locations (2,500 series) as the detect service
sends them; `--jobs` worker processes share the batches. The classic approach is timed on a
sample of series and extrapolated linearly (it is one independent fit per series).
Times are CPU seconds of the detection calls (process time, so other load on the machine does
not inflate them); "_on_jobs_cores" divides the CPU time by the worker count (batches are
independent), "wall_s_incl_data_generation" is the observed wall clock of the whole run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.ensemble import IsolationForest

from preempt.detection import DEFAULT_RULES, SeasonalParams, detect, fit_detector_forests

METRICS = ("temperature_2m", "relative_humidity_2m", "precipitation", "wind_speed_10m",
           "dew_point_2m")
HOUR = 3600.0
CLASSIC_HISTORY_H = 7 * 24
BATCH_LOCATIONS = 500
T0 = 1_767_225_600.0


def make_batch(n_loc: int, hours: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[str],
                                                              list[int]]:
    rng = np.random.default_rng(seed)
    times = T0 + HOUR * np.arange(hours)
    hod = (times % 86400) / HOUR
    cycle = np.sin(2 * np.pi * (hod - 9) / 24)
    rows = []
    for m in METRICS:
        walk = np.cumsum(rng.normal(0, 0.3, (n_loc, hours)), axis=1)
        base = {"temperature_2m": 15 + 6 * cycle, "relative_humidity_2m": 65 - 15 * cycle,
                "precipitation": np.zeros(hours), "wind_speed_10m": 12 + 3 * cycle,
                "dew_point_2m": 8 + 1 * cycle}[m]
        v = base[None, :] + walk + rng.normal(0, 0.5, (n_loc, hours))
        if m == "precipitation":
            v = np.where(rng.random((n_loc, hours)) < 0.08, rng.exponential(1.0, (n_loc, hours)),
                         0.0)
        if m == "relative_humidity_2m":
            v = np.clip(v, 5, 100)
        rows.append(np.round(v, 1))
    values = np.stack(rows, axis=1).reshape(n_loc * len(METRICS), hours)
    metric_types = [m for _ in range(n_loc) for m in METRICS]
    groups = [i for i in range(n_loc) for _ in METRICS]
    return times, values, metric_types, groups


def _train_batch(n_loc: int, seed: int, history_h: int) -> tuple[float, Any]:
    times, values, metrics, _ = make_batch(n_loc, history_h + 1, seed)
    start = time.process_time()
    forests = fit_detector_forests(times, values, split_s=times[history_h], metric_types=metrics)
    return time.process_time() - start, forests


def _score_batch(n_loc: int, seed: int, new_h: int, forests: Any,
                 history_h: int) -> tuple[float, int]:
    times, values, metrics, groups = make_batch(n_loc, history_h + new_h, seed)
    start = time.process_time()
    det = detect(times, values, split_s=times[history_h], method="hybrid", forests=forests,
                 rules=DEFAULT_RULES, metric_types=metrics, groups=groups)
    return time.process_time() - start, int(det.is_anomaly.sum())


def _batch_run(n_loc: int, seed: int, history_h: int) -> dict[str, float]:
    """Train a batch once, then a live cycle (newest hour) and a full new day with the models."""
    train_s, forests = _train_batch(n_loc, seed, history_h)
    cycle_s, cycle_flags = _score_batch(n_loc, seed, 1, forests, history_h)
    day_s, day_flags = _score_batch(n_loc, seed, 24, forests, history_h)
    return {"train": train_s, "cycle": cycle_s, "day": day_s,
            "cycle_flags": cycle_flags, "day_flags": day_flags}


def hybrid(n_loc: int, jobs: int, history_h: int) -> dict[str, Any]:
    batches = [min(BATCH_LOCATIONS, n_loc - i) for i in range(0, n_loc, BATCH_LOCATIONS)]
    start = time.perf_counter()
    parts = Parallel(n_jobs=jobs)(
        delayed(_batch_run)(n, seed, history_h) for seed, n in enumerate(batches)
    )
    wall = time.perf_counter() - start

    def cpu(key: str) -> float:
        return float(sum(p[key] for p in parts))

    return {
        "series": n_loc * len(METRICS),
        "train_cpu_s": round(cpu("train"), 2),
        "train_s_on_jobs_cores": round(cpu("train") / jobs, 2),
        "score_live_cycle_newest_hour_cpu_s": round(cpu("cycle"), 2),
        "score_live_cycle_newest_hour_s_on_jobs_cores": round(cpu("cycle") / jobs, 2),
        "score_new_day_24h_cpu_s": round(cpu("day"), 2),
        "score_new_day_24h_s_on_jobs_cores": round(cpu("day") / jobs, 2),
        "flagged_cycle": int(cpu("cycle_flags")),
        "flagged_day": int(cpu("day_flags")),
        "wall_s_incl_data_generation": round(wall, 2),
    }


def classic(n_loc: int, sample_series: int) -> dict[str, Any]:
    """SEED.md: z-score over 7 days + IsolationForest trained per location per metric per cycle."""
    _, values, _, _ = make_batch(max(1, sample_series // len(METRICS)), CLASSIC_HISTORY_H, 99)
    values = values[:sample_series]
    start = time.process_time()
    for row in values:
        z = (row - row.mean()) / (row.std() or 1.0)
        model = IsolationForest(n_estimators=100, contamination=0.01, random_state=42)
        model.fit(row.reshape(-1, 1))
        scores = -model.score_samples(row.reshape(-1, 1))
        _ = (np.abs(z) > 2) | (scores > np.quantile(scores, 0.99))
    per_series = (time.process_time() - start) / len(values)
    total = n_loc * len(METRICS)
    return {
        "series": total,
        "timed_series": len(values),
        "extrapolated": total > len(values),
        "cpu_ms_per_series": round(per_series * 1000, 2),
        "cycle_cpu_s": round(per_series * total, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--locations", type=int, nargs="+", default=[892, 10_000])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--classic-sample", type=int, default=200)
    ap.add_argument("--history-days", type=float, default=SeasonalParams().window_s / 86400)
    args = ap.parse_args()
    history_h = round(args.history_days * 24)
    out: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "jobs": args.jobs,
        "history_hours": history_h,
        "classic_history_hours": CLASSIC_HISTORY_H,
        "metrics": list(METRICS),
        "batch_locations": BATCH_LOCATIONS,
        "results": {},
    }
    for n in args.locations:
        out["results"][str(n)] = {
            "hybrid": hybrid(n, args.jobs, history_h),
            "classic_seed": classic(n, args.classic_sample),
        }
    out["goal"] = "10,000 locations scored in under 60 s on 2 cores"
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
