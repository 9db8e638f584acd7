"""Detection quality: labelled synthetic weather (the emulator's model and injector) and real
Beijing observations, scored causally as the live service would; prints one JSON document.

Synthetic: per anomaly kind a dataset with only that kind injected, one with all kinds and one
clean; precision/recall/F1 per kind and overall for the default (hybrid) and the classic SEED.md
method in the same run, event-level (an incident found / an alarm episode that matches an
incident) and sample-level; false alarms per location-week on the clean series; suggestions'
fire rate on truly normal samples; the mixed set's F1 on further draws (seeds), for its spread.
Real: anomalies per location-week, a report of every flagged sample with its context, the
README's named events, and the real series with injected faults.

    .venv/bin/python bench/eval_detection.py [--locations 40] [--days 21] [--extra-seeds 5]
        [--quick]
Real data: ../shared/data/beijing from the repository root, or PREEMPT_REAL_DATA_DIR.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from preempt.detection import (
    DEFAULT_RULES,
    DetectorParams,
    SeriesKey,
    combine,
    detect_causal,
    suggest,
)
from preempt.domain import METRIC_LABELS, METRIC_UNITS
from preempt.simulation import ANOMALY_KINDS, AnomalyConfig, inject_anomalies, simulate_weather

ROOT = Path(__file__).resolve().parents[1]
METRICS = (
    "temperature_2m",
    "relative_humidity_2m",
    "precipitation",
    "wind_speed_10m",
    "dew_point_2m",
)
WARMUP_DAYS = 7
GRACE_S = 6 * 3600  # flags this soon after an incident ends belong to it (recovery)
BEIJING_TZ = timezone(timedelta(hours=8))


@dataclass
class Dataset:
    times: np.ndarray  # (n,) epoch s
    values: np.ndarray  # (S, n) series = location x metric
    truth: np.ndarray  # (S, n) bool
    metrics: list[str]
    locations: list[str]
    events: list[tuple[int, int, int, str]]  # (series, start_s, end_s, kind)


# ---------------------------------------------------------------- scoring of flags vs truth
def _episodes(flags: np.ndarray, times: np.ndarray) -> list[tuple[int, float, float]]:
    """(series, first time, last time) of runs of flags (a gap of one sample joins runs)."""
    out = []
    for s in np.nonzero(flags.any(axis=1))[0].tolist():
        idx = np.nonzero(flags[s])[0]
        breaks = np.nonzero(np.diff(idx) > 2)[0]
        starts = np.concatenate([[0], breaks + 1])
        ends = np.concatenate([breaks, [len(idx) - 1]])
        pairs = zip(starts, ends, strict=True)
        out += [(s, float(times[idx[a]]), float(times[idx[b]])) for a, b in pairs]
    return out


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def score_flags(ds: Dataset, flags: np.ndarray, scored: np.ndarray) -> dict[str, Any]:
    """Event- and sample-level precision/recall of flags in the scored span.

    Recall counts the incidents that start in the scored span. An alarm episode is true when it
    overlaps any incident of its series (plus the recovery grace), including one that started
    during the warm-up and runs on into the scored span: a flag on a real, labelled fault is not
    a false alarm just because the fault began before scoring did.
    """
    flags = flags & scored
    start = float(ds.times[scored.any(axis=0)].min()) if scored.any() else 0.0
    events = [e for e in ds.events if e[1] >= start]
    eps = _episodes(flags, ds.times)
    by_series: dict[int, list[tuple[int, int]]] = {}
    for s, a, b, _ in ds.events:
        by_series.setdefault(s, []).append((a, b))
    true_eps = sum(
        any(a0 <= b and a <= b0 + GRACE_S for a0, b0 in by_series.get(s, [])) for s, a, b in eps
    )
    found = 0
    for s, a0, b0, _ in events:
        mask = (ds.times >= a0) & (ds.times < b0 + GRACE_S)
        found += bool(flags[s, mask].any())
    truth = ds.truth & scored
    tp = int((flags & truth).sum())
    ev_p = true_eps / len(eps) if eps else 1.0
    ev_r = found / len(events) if events else 1.0
    sp = tp / int(flags.sum()) if flags.sum() else 1.0
    sr = tp / int(truth.sum()) if truth.sum() else 1.0
    return {
        "events": len(events),
        "alarm_episodes": len(eps),
        "event_precision": round(ev_p, 3),
        "event_recall": round(ev_r, 3),
        "event_f1": round(_f1(ev_p, ev_r), 3),
        "sample_precision": round(sp, 3),
        "sample_recall": round(sr, 3),
        "sample_f1": round(_f1(sp, sr), 3),
    }


# ---------------------------------------------------------------- synthetic data
def synthetic(
    n_loc: int, days: int, *, kinds: tuple[str, ...] | None, seed: int, rate: float
) -> Dataset:
    rng = np.random.default_rng(seed)
    lat = rng.uniform(-45, 62, n_loc)
    lon = rng.uniform(-170, 175, n_loc)
    t0 = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())
    times = np.arange(t0, t0 + days * 86400, 3600, dtype=np.int64)
    clean = simulate_weather(lat, lon, times, seed=seed)
    if kinds is None:
        values, masks, labels = clean, {m: np.zeros(clean[m].shape, bool) for m in clean}, []
    else:
        inj = inject_anomalies(
            lat, lon, times, clean, seed=seed,
            config=AnomalyConfig(rate_per_day=rate, kinds=kinds, metrics=METRICS),
        )
        values, masks, labels = inj.values, inj.masks, inj.labels
    rows = [(li, m) for li in range(n_loc) for m in METRICS]
    series_of = {r: i for i, r in enumerate(rows)}
    events = [
        (series_of[(lb.location_index, lb.metric)], lb.start_s, lb.end_s, lb.kind)
        for lb in labels if lb.metric in METRICS
    ]
    return Dataset(
        times=times.astype(np.float64),
        values=np.stack([values[m][li] for li, m in rows]),
        truth=np.stack([masks[m][li] for li, m in rows]),
        metrics=[m for _, m in rows],
        locations=[f"loc{li}" for li, _ in rows],
        events=events,
    )


def run(ds: Dataset, method: str, params: DetectorParams) -> Any:
    return detect_causal(
        ds.times, ds.values, method=method, params=params,  # type: ignore[arg-type]
        rules=DEFAULT_RULES, metric_types=ds.metrics, groups=ds.locations,
    )


def _scored_mask(ds: Dataset) -> np.ndarray:
    start = ds.times[0] + WARMUP_DAYS * 86400
    return np.broadcast_to(ds.times >= start, ds.values.shape)


def location_weeks(ds: Dataset, scored: np.ndarray) -> float:
    n_loc = len(set(ds.locations))
    span_s = float(scored.any(axis=0).sum()) * 3600.0
    return n_loc * span_s / (7 * 86400)


def suggestion_quality(ds: Dataset, det: Any) -> dict[str, Any]:
    """Suggestions from week 2, fired on truly normal samples in week 2 (in-sample) and 3."""
    t = ds.times
    w1 = t[0] + WARMUP_DAYS * 86400
    w2 = w1 + 7 * 86400
    fit_cols = (t >= w1) & (t < w2)
    test_cols = t >= w2
    keys = [SeriesKey(loc, m, METRIC_UNITS[m], METRIC_LABELS[m]) for loc, m in
            zip(ds.locations, ds.metrics, strict=True)]
    sugg = suggest(t[fit_cols], ds.values[:, fit_cols], det.is_anomaly[:, fit_cols],
                   det.expected[:, fit_cols], keys=keys)
    fired_in = fired_out = normal_in = normal_out = 0
    for sg in sugg:
        v = ds.values[sg.series]
        cond = v > sg.threshold if sg.operator == ">" else v < sg.threshold
        normal = ~ds.truth[sg.series] & np.isfinite(v)
        fired_in += int((cond & normal & fit_cols).sum())
        normal_in += int((normal & fit_cols).sum())
        fired_out += int((cond & normal & test_cols).sum())
        normal_out += int((normal & test_cols).sum())
    return {
        "suggestions": len(sugg),
        "normal_fire_rate_in_sample": round(fired_in / max(normal_in, 1), 4),
        "normal_fire_rate_next_week": round(fired_out / max(normal_out, 1), 4),
        "examples": [s.description for s in sugg[:3]],
    }


def mixed_set(n_loc: int, days: int, seed: int) -> Dataset:
    """Every anomaly kind at once, at the rate the overall figures are measured on."""
    return synthetic(n_loc, days, kinds=ANOMALY_KINDS, seed=seed, rate=0.05)


def across_seeds(n_loc: int, days: int, seeds: list[int], params: DetectorParams,
                 first: dict[str, Any]) -> dict[str, Any]:
    """The mixed set's event F1 on further weather/fault draws (seeds[1:]) beside the first one
    (`first`, scored on seeds[0]): the spread says how much of a figure is the draw rather than
    the detector."""
    f1: dict[str, list[float]] = {m: [first[m]["event_f1"]] for m in ("hybrid", "classic")}
    for s in seeds[1:]:
        ds = mixed_set(n_loc, days, s)
        scored = _scored_mask(ds)
        for m in f1:
            f1[m].append(score_flags(ds, run(ds, m, params).is_anomaly, scored)["event_f1"])
    out: dict[str, Any] = {"seeds": seeds}
    for m, values in f1.items():
        out[m] = {"event_f1": values, "mean": round(float(np.mean(values)), 3),
                  "min": min(values), "max": max(values)}
    progress("overall across seeds", out)
    return out


def eval_synthetic(n_loc: int, days: int, seed: int, params: DetectorParams,
                   extra_seeds: int) -> dict[str, Any]:
    out: dict[str, Any] = {"locations": n_loc, "days": days, "warmup_days": WARMUP_DAYS,
                           "metrics": list(METRICS), "per_kind": {}}
    for kind in ANOMALY_KINDS:
        ds = synthetic(n_loc, days, kinds=(kind,), seed=seed, rate=0.08)
        scored = _scored_mask(ds)
        out["per_kind"][kind] = {
            m: score_flags(ds, run(ds, m, params).is_anomaly, scored) for m in ("hybrid", "classic")
        }
        progress(f"per_kind {kind}", out["per_kind"][kind])
    mixed_seeds = [seed + 1 + 2 * k for k in range(extra_seeds + 1)]
    ds = mixed_set(n_loc, days, mixed_seeds[0])
    scored = _scored_mask(ds)
    overall = {}
    for m in ("hybrid", "seasonal", "classic"):
        det = run(ds, m, params)
        overall[m] = score_flags(ds, det.is_anomaly, scored)
        progress(f"overall {m}", overall[m])
        if m == "hybrid":
            overall["suggestions_hybrid"] = suggestion_quality(ds, det)
    out["overall"] = overall
    out["overall_across_seeds"] = across_seeds(n_loc, days, mixed_seeds, params, overall)
    clean = synthetic(n_loc, days, kinds=None, seed=seed + 2, rate=0.0)
    scored = _scored_mask(clean)
    weeks = location_weeks(clean, scored)
    fa = {}
    for m in ("hybrid", "seasonal", "classic"):
        flags = run(clean, m, params).is_anomaly & scored
        fa[m] = {
            "flagged_samples_per_location_week": round(float(flags.sum()) / weeks, 3),
            "alarm_episodes_per_location_week": round(
                len(_episodes(flags, clean.times)) / weeks, 3
            ),
        }
    out["clean_false_alarms"] = {"location_weeks": round(weeks, 1), **fa}
    progress("clean", out["clean_false_alarms"])
    return out


# ---------------------------------------------------------------- real data
def real_dir() -> Path | None:
    env = os.environ.get("PREEMPT_REAL_DATA_DIR")
    path = Path(env) if env else ROOT / ".." / "shared" / "data" / "beijing"
    return path if path.is_dir() and any(path.glob("*.csv")) else None


def load_real(path: Path, since: datetime | None, until: datetime | None) -> Dataset:
    sites = sorted(path.glob("*.csv"))
    columns: dict[str, dict[str, list[float]]] = {}
    times: list[float] = []
    for i, f in enumerate(sites):
        with f.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        stamps = [datetime.fromisoformat(r["time_local"]).replace(tzinfo=BEIJING_TZ) for r in rows]
        keep = [(since is None or s >= since) and (until is None or s < until) for s in stamps]
        if i == 0:
            times = [s.timestamp() for s, k in zip(stamps, keep, strict=True) if k]
        columns[f.stem] = {
            m: [float(r[m]) if r[m] != "" else np.nan for r, k in zip(rows, keep, strict=True) if k]
            for m in METRICS
        }
    rows_ = [(site, m) for site in columns for m in METRICS]
    return Dataset(
        times=np.asarray(times),
        values=np.asarray([columns[s][m] for s, m in rows_], dtype=np.float64),
        truth=np.zeros((len(rows_), len(times)), bool),
        metrics=[m for _, m in rows_],
        locations=[s for s, _ in rows_],
        events=[],
    )


def named_events(ds: Dataset, flags: np.ndarray) -> list[dict[str, Any]]:
    """The README's events located in the data, and whether the detector flagged them."""
    out = []
    t_local = [datetime.fromtimestamp(x, BEIJING_TZ) for x in ds.times]

    def rows(metric: str) -> list[int]:
        return [i for i, m in enumerate(ds.metrics) if m == metric]

    def check(name: str, metric: str, mask_fn: Any, around_h: int = 0) -> None:
        hits, sites = 0, 0
        for r in rows(metric):
            mask = mask_fn(ds.values[r])
            if not mask.any():
                continue
            sites += 1
            idx = np.nonzero(mask)[0]
            lo, hi = max(idx.min() - around_h, 0), min(idx.max() + around_h + 1, len(ds.times))
            hits += bool(flags[r, lo:hi].any())
        out.append({"event": name, "sites_with_event": sites, "sites_flagged": hits,
                    "flagged": hits > 0})

    day = np.array([d.date().isoformat() for d in t_local])
    check("2016-07-20 rainstorm (>200 mm in a day)", "precipitation",
          lambda v: (day == "2016-07-20") & (np.nan_to_num(v) > 5.0))
    check("single hours above 70 mm", "precipitation", lambda v: np.nan_to_num(v) > 70.0)
    check("41.6 °C in summer", "temperature_2m", lambda v: np.nan_to_num(v) >= 41.0)
    check("-19.9 °C cold wave", "temperature_2m",
          lambda v: np.nan_to_num(v, nan=99.0) <= -19.0, around_h=24)
    return out


def write_report(ds: Dataset, det: Any, path: Path) -> int:
    keys = [SeriesKey(loc, m, METRIC_UNITS[m], METRIC_LABELS[m]) for loc, m in
            zip(ds.locations, ds.metrics, strict=True)]
    anomalies = combine(det, ds.times, ds.values, keys=keys)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["site", "metric", "time_local", "value", "expected", "lower", "upper",
                    "score", "severity", "methods", "previous_6h", "explanation"])
        for a in anomalies:
            prev = ds.values[a.series, max(0, a.index - 6):a.index]
            local = datetime.fromtimestamp(a.timestamp_s, BEIJING_TZ).strftime("%Y-%m-%d %H:%M")
            w.writerow([ds.locations[a.series], ds.metrics[a.series], local, a.value,
                        round(a.expected, 2), round(a.lower, 2), round(a.upper, 2), a.score,
                        a.severity, "+".join(a.methods),
                        " ".join(f"{x:g}" for x in prev), a.explanation])
    return len(anomalies)


def inject_real(ds: Dataset, seed: int) -> Dataset:
    """The injector's faults on the real series; stuck sensors hold the real reading."""
    sites = sorted(set(ds.locations))
    lat = 39.9 + 0.05 * np.arange(len(sites))
    lon = 116.4 + 0.05 * np.arange(len(sites))
    t = ds.times.astype(np.int64)
    base = {m: np.stack([ds.values[ds.locations.index(s) + METRICS.index(m)] for s in sites])
            for m in METRICS}
    inj = inject_anomalies(lat, lon, t, base, seed=seed,
                           config=AnomalyConfig(rate_per_day=0.05, metrics=METRICS))
    values = {m: inj.values[m].copy() for m in METRICS}
    for lb in inj.labels:
        if lb.kind == "stuck":
            inside = (t >= lb.start_s) & (t < lb.end_s)
            real = base[lb.metric][lb.location_index]
            before = real[: int(np.argmax(inside)) + 1]
            held = before[np.isfinite(before)][-1] if np.isfinite(before).any() else np.nan
            values[lb.metric][lb.location_index, inside] = held
    rows = [(si, m) for si in range(len(sites)) for m in METRICS]
    series_of = {r: i for i, r in enumerate(rows)}
    return Dataset(
        times=ds.times,
        values=np.stack([values[m][si] for si, m in rows]),
        truth=np.stack([inj.masks[m][si] for si, m in rows]),
        metrics=[m for _, m in rows],
        locations=[sites[si] for si, _ in rows],
        events=[(series_of[(lb.location_index, lb.metric)], lb.start_s, lb.end_s, lb.kind)
                for lb in inj.labels],
    )


def progress(what: str, figures: Any) -> None:
    """One line per finished section on stderr, so a long run shows where it is."""
    print(f"[{time.strftime('%H:%M:%S')}] {what}: {json.dumps(figures)}", file=sys.stderr,
          flush=True)


def _real_section(ds: Dataset, method: str, params: DetectorParams,
                  report: Path | None) -> dict[str, Any]:
    scored = _scored_mask(ds)
    weeks = location_weeks(ds, scored)
    det = run(ds, method, params)
    flags = det.is_anomaly & scored
    rows_of = {m: [i for i, x in enumerate(ds.metrics) if x == m] for m in METRICS}
    section: dict[str, Any] = {
        "location_weeks": round(weeks, 1),
        "anomalies_per_location_week": round(float(flags.sum()) / weeks, 2),
        "alarm_episodes_per_location_week": round(len(_episodes(flags, ds.times)) / weeks, 2),
        "per_metric_per_location_week": {
            m: round(float(flags[r].sum()) / weeks, 2) for m, r in rows_of.items()
        },
        "by_method_per_location_week": {
            name: round(float(((scores >= 0.5) & flags).sum()) / weeks, 2)
            for name, scores in det.method_scores.items() if name != "classic" or method == name
        },
        "named_events": named_events(ds, flags),
    }
    if report is not None:
        section["report"] = str(report)
        section["report_rows"] = write_report(ds, replace(det, is_anomaly=flags), report)
    progress(f"real {method}", section)
    return section


def eval_real(params: DetectorParams, report_dir: Path, quick: bool) -> dict[str, Any]:
    path = real_dir()
    if path is None:
        print("notice: real data not found (../shared/data/beijing or PREEMPT_REAL_DATA_DIR); "
              "skipping the real-data section", file=sys.stderr)
        return {"skipped": "real data directory not found"}
    out: dict[str, Any] = {"source": f"{path.name}: 12 sites, hourly"}
    if not quick:
        # the whole record with the statistical methods: every named event is in it
        full = load_real(path, None, None)
        out["full_record_seasonal"] = _real_section(
            full, "seasonal", params, report_dir / "beijing_flagged_seasonal.csv")
        out["full_record_classic"] = _real_section(full, "classic", params, None)
    since = datetime(2015, 12, 1, tzinfo=BEIJING_TZ)
    until = datetime(2016, 3 if quick else 9, 1, tzinfo=BEIJING_TZ)
    ds = load_real(path, since, until)
    span = {"from": since.isoformat(), "until": until.isoformat()}
    out["span_hybrid"] = {**span, **_real_section(
        ds, "hybrid", params, report_dir / "beijing_flagged_hybrid.csv")}
    faulty = inject_real(ds, seed=7)
    scored = _scored_mask(faulty)
    out["span_with_injected_faults"] = {**span, **{
        m: score_flags(faulty, run(faulty, m, params).is_anomaly, scored)
        for m in ("hybrid", "seasonal", "classic")
    }}
    progress("real with injected faults", out["span_with_injected_faults"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--locations", type=int, default=40)
    ap.add_argument("--days", type=int, default=21)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--extra-seeds", type=int, default=5,
                    help="further draws of the mixed set for the spread of its F1")
    ap.add_argument("--quick", action="store_true", help="smaller real-data span")
    ap.add_argument("--report-dir", type=Path, default=ROOT / "var" / "eval_report")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--skip-synthetic", action="store_true")
    args = ap.parse_args()
    params = DetectorParams()
    started = time.perf_counter()
    result: dict[str, Any] = {"method_default": "hybrid"}
    result["synthetic"] = {"skipped": "--skip-synthetic"} if args.skip_synthetic else (
        eval_synthetic(args.locations, args.days, args.seed, params, args.extra_seeds))
    result["real"] = {"skipped": "--skip-real"} if args.skip_real else eval_real(
        params, args.report_dir, args.quick)
    result["goals"] = {"f1": 0.9, "false_alarms_per_location_week": 1.0,
                       "suggestion_normal_fire_rate": 0.01}
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
