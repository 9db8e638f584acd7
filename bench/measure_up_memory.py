"""Memory of `preempt up --demo` (892 locations) over a run of N minutes; prints JSON.

Starts the embedded stack on the emulator in a fresh var directory, samples the process's RSS
every `--every-s` seconds, stops it with SIGINT and reports the RSS samples (seconds, MB),
the RSS at the end and at its peak, and the number of detect cycles run. Not part of `make
bench` (it takes as long as it is asked to run):

    .venv/bin/python bench/measure_up_memory.py --minutes 60
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREEMPT = Path(sys.executable).with_name("preempt")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        line = next(x for x in status if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--every-s", type=float, default=30.0)
    parser.add_argument("--port", type=int, default=8380)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="preempt-mem-") as var:
        log_path = Path(var) / "up.log"
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                [str(PREEMPT), "up", "--demo", "--port", str(args.port),
                 "--sim-port", str(args.port + 1), "--csv", str(ROOT / "data/locations.csv")],
                cwd=var, env={**os.environ, "PREEMPT_VAR_DIR": var}, stdout=log,
                stderr=subprocess.STDOUT,
            )
        samples: list[tuple[float, float]] = []
        started = time.monotonic()
        try:
            while time.monotonic() - started < args.minutes * 60 and proc.poll() is None:
                samples.append((round(time.monotonic() - started), round(rss_mb(proc.pid), 1)))
                time.sleep(args.every_s)
            peak = peak_mb(proc.pid) if proc.poll() is None else float("nan")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=120)
        cycles = [line for line in log_path.read_text().splitlines()
                  if "detect cycle" in line and "judged" in line]
    print(json.dumps({
        "minutes": args.minutes, "load_avg_1m_end": os.getloadavg()[0],
        "detect_cycles": len(cycles),
        "rss_mb_end": samples[-1][1] if samples else None, "rss_mb_peak": round(peak, 1),
        "rss_mb_by_second": {str(t): mb for t, mb in samples},
    }, indent=1))


if __name__ == "__main__":
    main()
