"""preempt.memory gives freed heap memory back to the system (run in a child process: RSS)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from preempt import memory

pytestmark = pytest.mark.skipif(memory._glibc() is None, reason="needs glibc")

# 1 KiB objects come from malloc's heap (not Python's small-object pools); the object allocated
# last pins the top of the heap, so glibc's own trimming of the top cannot return the rest.
CHILD = """
import sys
from preempt.memory import release_free_memory
def rss_mb():
    return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20
blocks = [bytes(1024) + bytes([i % 256]) for i in range(200_000)]
pin = bytes(1024) + b'pin'
del blocks
before = rss_mb()
released = release_free_memory()
print(before, rss_mb(), released)
"""


def test_release_returns_freed_heap_to_the_system() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    before, after, released = float(out[0]), float(out[1]), out[2]
    assert released == "True"
    assert before - after > 100, f"RSS {before:.0f} MB -> {after:.0f} MB"


def test_tune_allocator_applies_on_glibc() -> None:
    assert memory.tune_allocator() is True


def test_trimmer_runs_until_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float] = []
    monkeypatch.setattr(memory, "release_free_memory", lambda: calls.append(time.monotonic()))
    stop = threading.Event()
    thread = memory.trim_periodically(stop, every_s=0.01)
    deadline = time.monotonic() + 5
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(timeout=2)
    assert len(calls) >= 3
    assert not thread.is_alive()
