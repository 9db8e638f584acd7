"""Run the real `preempt` command in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PREEMPT = [sys.executable, "-m", "preempt"]

# Infrastructure variables a developer's shell may have set: a test decides them itself.
_INFRA_VARS = ("DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME", "REDIS_HOST",
               "REDIS_PORT", "PREEMPT_DATABASE_URL", "PREEMPT_REDIS_URL", "PREEMPT_CONFIG",
               "PREEMPT_REDIS_PREFIX", "OPEN_METEO_URL")


def run_preempt(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 120,
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in _INFRA_VARS}
    full_env.update(env or {})
    return subprocess.run(
        [*PREEMPT, *args], env=full_env, cwd=cwd or REPO, capture_output=True, text=True,
        timeout=timeout_s, check=False,
    )


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_preempt(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None,
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a long-running `preempt` command; its output goes to `log` (or is discarded)."""
    full_env = {k: v for k, v in os.environ.items() if k not in _INFRA_VARS}
    full_env.update(env or {})
    out = log.open("ab") if log else subprocess.DEVNULL
    return subprocess.Popen([*PREEMPT, *args], env=full_env, cwd=cwd or REPO, stdout=out,
                            stderr=subprocess.STDOUT)
