"""`preempt score`: run the detector on any `timestamp,value` CSV and write scores beside it.

Causal like the live service: each sample is judged only against the samples before it.
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import numpy.typing as npt
import typer

from preempt.cli import app
from preempt.detection import (
    DEFAULT_RULES,
    METHODS,
    ClassicParams,
    Detection,
    DetectorParams,
    SeasonalParams,
    detect_causal,
    infer_interval_s,
)
from preempt.detection.combine import METHOD_ORDER
from preempt.detection.detector import methods_for
from preempt.detection.grid import DAY_S, HOUR_S
from preempt.detection.seasonal import fit_seasonal
from preempt.domain import KNOWN_METRICS
from preempt.errors import InvalidInput

logger = logging.getLogger(__name__)

OUTPUT_COLUMNS = (
    "timestamp", "value", "anomaly_score", "is_anomaly", "expected", "lower", "upper", "methods"
)
_MISSING = {"", "nan", "null", "none", "na"}


@dataclass(frozen=True, slots=True)
class ScoreInput:
    stamps: list[str]
    times_s: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]


@app.command("score")
def score(
    input_csv: Annotated[Path, typer.Option("--input", "-i", help="CSV of timestamp,value.")],
    output_csv: Annotated[Path, typer.Option("--output", "-o", help="Where to write scores.")],
    method: Annotated[str, typer.Option(help="seasonal, classic, iforest or hybrid.")] = "hybrid",
    metric: Annotated[
        str | None,
        typer.Option(help="Metric type of the values (e.g. wind_speed_10m): enables the "
                          "heuristic rules and scale floors of that metric."),
    ] = None,
) -> None:
    """Score every sample of a timestamp,value CSV causally (uses only earlier samples)."""
    if method not in METHODS:
        raise InvalidInput(f"--method {method!r}: use one of {', '.join(METHODS)}")
    if metric is not None and metric not in KNOWN_METRICS:
        known = ", ".join(sorted(KNOWN_METRICS))
        raise InvalidInput(f"--metric {metric!r}: known metrics are {known}")
    data = read_series(input_csv)
    interval_s = float(infer_interval_s(data.times_s)[0]) if len(data.stamps) > 1 else HOUR_S
    params = params_for_interval(interval_s)
    metrics = [metric] if metric else None
    detection = detect_causal(
        data.times_s, data.values[None, :], method=method,  # type: ignore[arg-type]
        params=params, rules=DEFAULT_RULES if metric else (), metric_types=metrics,
    )
    write_scores(output_csv, data, detection)
    cycle = _has_daily_cycle(data, params)
    flagged = int(detection.is_anomaly.sum())
    typer.echo(
        f"Scored {len(data.stamps)} samples of {input_csv} (interval {_duration(interval_s)}, "
        f"daily cycle: {'yes' if cycle else 'no'}, method {method}): {flagged} anomal"
        f"{'y' if flagged == 1 else 'ies'} -> {output_csv}"
    )


def read_series(path: Path) -> ScoreInput:
    """Parse timestamp,value rows; InvalidInput names the file and line of the first problem."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from exc
    stamps: list[str] = []
    times: list[float] = []
    values: list[float] = []
    with handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not row or all(not c.strip() for c in row):
                continue
            if line_no == 1 and _is_header(row):
                continue
            if len(row) < 2:
                raise InvalidInput(f"{path}:{line_no}: expected 2 columns timestamp,value, "
                                   f"got {len(row)}")
            stamp, raw = row[0].strip(), row[1].strip()
            t = _parse_time(stamp, path, line_no)
            if times and t <= times[-1]:
                what = "repeats" if t == times[-1] else "is earlier than"
                raise InvalidInput(f"{path}:{line_no}: timestamp {stamp!r} {what} the previous "
                                   "one; sort the rows by time (no duplicates)")
            stamps.append(stamp)
            times.append(t)
            values.append(_parse_value(raw, path, line_no))
    if not stamps:
        raise InvalidInput(f"{path}: no data rows (expected timestamp,value)")
    return ScoreInput(stamps, np.asarray(times, dtype=np.float64), np.asarray(values))


def params_for_interval(interval_s: float) -> DetectorParams:
    """Grid, window and warm-up that fit the sampling interval (hourly cells up to hourly data,
    one cell per sample beyond; at least the core's default history or 30 samples)."""
    cell_s = HOUR_S if interval_s <= HOUR_S else interval_s
    window_s = max(SeasonalParams().window_s, 30 * cell_s)
    window_s = math.ceil(window_s / cell_s) * cell_s
    window_cells = round(window_s / cell_s)
    seasonal = replace(
        SeasonalParams(), cell_s=cell_s, window_s=window_s,
        min_history_cells=min(72, window_cells // 2),
    )
    classic_s = math.ceil(max(ClassicParams().window_s, 30 * cell_s) / cell_s) * cell_s
    classic = replace(ClassicParams(), window_s=classic_s,
                      min_samples=min(24, round(classic_s / cell_s) // 2))
    return DetectorParams(seasonal=seasonal, classic=classic)


def write_scores(path: Path, data: ScoreInput, det: Detection) -> None:
    """One output row per input row: OUTPUT_COLUMNS, empty cells for unknown numbers."""
    score, flags = det.score[0], det.is_anomaly[0]
    used = methods_for(det.method)
    scores = {k: v for k, v in det.method_scores.items() if k in used}
    try:
        handle = path.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from exc
    with handle:
        out = csv.writer(handle)
        out.writerow(OUTPUT_COLUMNS)
        for i, stamp in enumerate(data.stamps):
            methods = "+".join(m for m in METHOD_ORDER if m in scores and scores[m][0, i] >= 0.5)
            out.writerow([
                stamp, _num(data.values[i]), f"{score[i]:.4f}", "true" if flags[i] else "false",
                _num(det.expected[0, i]), _num(det.lower[0, i]), _num(det.upper[0, i]),
                methods if flags[i] else "",
            ])


def _has_daily_cycle(data: ScoreInput, params: DetectorParams) -> bool:
    span = float(data.times_s[-1] - data.times_s[0]) + params.seasonal.cell_s
    window = math.ceil(max(span, params.seasonal.window_s) / DAY_S) * DAY_S
    fit = fit_seasonal(
        data.times_s[None, :], data.values[None, :],
        split_s=np.asarray([data.times_s[-1] + 1.0]),
        params=replace(params.seasonal, window_s=window),
    )
    return bool(fit.has_cycle[0])


def _is_header(row: list[str]) -> bool:
    first = row[0].strip().lower()
    return first in {"timestamp", "time", "date", "datetime", "time_local"} or (
        not first[:1].isdigit() and not first.startswith("-")
    )


def _parse_time(stamp: str, path: Path, line_no: int) -> float:
    try:
        return float(stamp) if stamp.replace(".", "", 1).isdigit() else _iso(stamp)
    except ValueError as exc:
        raise InvalidInput(f"{path}:{line_no}: cannot parse timestamp {stamp!r} "
                           "(use ISO 8601 like 2026-01-31T14:00:00Z, or epoch seconds)") from exc


def _iso(stamp: str) -> float:
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00").replace(" ", "T", 1))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # naive times are UTC (storage convention)
    return parsed.timestamp()


def _parse_value(raw: str, path: Path, line_no: int) -> float:
    if raw.lower() in _MISSING:
        return math.nan
    try:
        value = float(raw)
    except ValueError as exc:
        raise InvalidInput(f"{path}:{line_no}: value {raw!r} is not a number "
                           "(leave the cell empty for a missing reading)") from exc
    if math.isinf(value):
        raise InvalidInput(f"{path}:{line_no}: value {raw!r} is not finite")
    return value


def _num(value: float) -> str:
    return "" if not math.isfinite(float(value)) else f"{float(value):.4f}".rstrip("0").rstrip(".")


def _duration(seconds: float) -> str:
    for unit, size in (("d", DAY_S), ("h", HOUR_S), ("min", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
