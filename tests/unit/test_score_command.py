"""`preempt score`: a CSV round trip through the real command, and its error messages."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from preempt.commands.score import OUTPUT_COLUMNS, params_for_interval, read_series
from preempt.errors import InvalidInput
from tests.cli_helpers import run_preempt

START = datetime(2026, 1, 1, tzinfo=UTC)


def write_series(path: Path, values: np.ndarray, step: timedelta = timedelta(hours=1)) -> None:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["timestamp", "value"])
        for i, v in enumerate(values):
            stamp = (START + i * step).isoformat().replace("+00:00", "Z")
            out.writerow([stamp, "" if np.isnan(v) else f"{v:.2f}"])


def diurnal(hours: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hour = np.arange(hours) % 24
    return 10 + 5 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(0, 0.3, hours)


def read_output(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_round_trip_flags_the_spike_and_keeps_every_row(tmp_path: Path) -> None:
    values = diurnal(24 * 10)
    values[220] += 12.0
    values[100] = np.nan
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    write_series(src, values)
    result = run_preempt("score", "--input", str(src), "--output", str(dst), "--method", "seasonal")
    assert result.returncode == 0, result.stderr
    assert "interval 1h" in result.stdout and "daily cycle: yes" in result.stdout
    rows = read_output(dst)
    assert tuple(rows[0]) == OUTPUT_COLUMNS
    assert len(rows) == values.size
    flagged = [i for i, r in enumerate(rows) if r["is_anomaly"] == "true"]
    assert 220 in flagged
    assert "seasonal" in rows[220]["methods"]
    assert float(rows[220]["anomaly_score"]) > 0.9
    assert float(rows[220]["lower"]) < float(rows[220]["expected"]) < float(rows[220]["upper"])
    assert rows[100]["value"] == ""
    assert all(0.0 <= float(r["anomaly_score"]) <= 1.0 for r in rows)


def test_scores_are_causal_a_prefix_scores_the_same(tmp_path: Path) -> None:
    values = diurnal(24 * 9, seed=2)
    full, prefix = tmp_path / "full.csv", tmp_path / "prefix.csv"
    write_series(full, values)
    write_series(prefix, values[: 24 * 8 + 5])
    for src in (full, prefix):
        result = run_preempt("score", "-i", str(src), "-o", str(src.with_suffix(".out")))
        assert result.returncode == 0, result.stderr
    a = read_output(full.with_suffix(".out"))
    b = read_output(prefix.with_suffix(".out"))
    assert [r["anomaly_score"] for r in a[: len(b)]] == [r["anomaly_score"] for r in b]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("timestamp,value\n2026-01-01T00:00Z,1\nyesterday,2\n", "in.csv:3: cannot parse timestamp"),
        ("timestamp,value\n2026-01-01T00:00Z,1\n2026-01-01T01:00Z,warm\n",
         "in.csv:3: value 'warm' is not a number"),
        ("timestamp,value\n2026-01-01T02:00Z,1\n2026-01-01T01:00Z,2\n",
         "in.csv:3: timestamp '2026-01-01T01:00Z' is earlier than the previous one"),
        ("timestamp,value\n2026-01-01T02:00Z,1\n2026-01-01T02:00Z,2\n", "in.csv:3: timestamp"),
        ("timestamp,value\n2026-01-01T02:00Z\n", "in.csv:2: expected 2 columns"),
        ("timestamp,value\n", "no data rows"),
    ],
)
def test_bad_input_is_reported_with_its_line(tmp_path: Path, body: str, message: str) -> None:
    src = tmp_path / "in.csv"
    src.write_text(body)
    result = run_preempt("score", "--input", str(src), "--output", str(tmp_path / "o.csv"))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_method_and_missing_file_are_clear_errors(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    write_series(src, diurnal(48))
    bad = run_preempt("score", "-i", str(src), "-o", str(tmp_path / "o.csv"), "--method", "magic")
    assert bad.returncode == 2 and "--method 'magic'" in bad.stderr
    gone = run_preempt("score", "-i", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.csv"))
    assert gone.returncode == 2 and "cannot read" in gone.stderr


def test_epoch_seconds_and_header_less_input_are_read(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("1767225600,1.5\n1767229200,\n1767232800,2\n")
    data = read_series(src)
    assert data.stamps == ["1767225600", "1767229200", "1767232800"]
    assert np.isnan(data.values[1]) and data.values[2] == 2.0
    bad = tmp_path / "bad.csv"
    bad.write_text("1767225600,1\n1767229200,inf\n")
    with pytest.raises(InvalidInput, match=r"bad.csv:2: value 'inf' is not finite"):
        read_series(bad)


def test_sampling_interval_sets_the_grid() -> None:
    five_min = params_for_interval(300.0)
    daily = params_for_interval(86400.0)
    assert five_min.seasonal.cell_s == 3600.0 and five_min.seasonal.window_s == 14 * 86400
    assert five_min.classic.window_s == 7 * 86400  # SEED.md's z-score keeps its 7 days
    assert daily.seasonal.cell_s == 86400.0 and daily.seasonal.window_s == 30 * 86400
