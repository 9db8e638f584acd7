"""End-to-end fixtures: a database filled on emulator data, a real `preempt server` serving the
built dashboard, and Debian's Chromium driven by Playwright.

The database is filled by the real pipeline when the CLI has it (`openmeteo-sim` → `collect
--once` → Redis stream → `store --until-idle` → `detect --once`); until `collect` and `detect`
exist it is filled through the storage writers with the emulator's weather model (fill.py).
E2E_FILL=pipeline|writers forces one way.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import free_port

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "frontend" / "dist"
ARTIFACTS = REPO / "test-artifacts"
PREEMPT = str(Path(sys.executable).with_name("preempt"))
EDITOR_TOKEN = "e2e-editor-token-not-a-secret"
VIEWER_TOKEN = "e2e-viewer-token-not-a-secret"
AXE = REPO / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PIPELINE_COMMANDS = ("openmeteo-sim", "collect", "store", "detect")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


def authorized(url: str, token: str | None) -> urllib.request.Request:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return urllib.request.Request(url, headers=headers)


def wait_http(url: str, timeout_s: float = 60.0, token: str | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(authorized(url, token), timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wait_port(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def cli_commands() -> set[str]:
    out = subprocess.run([PREEMPT, "--help"], capture_output=True, text=True, check=True).stdout
    found = set()
    for line in out.splitlines():
        parts = line.strip("│ ").split()
        if parts and parts[0] in PIPELINE_COMMANDS:
            found.add(parts[0])
    return found


@dataclass(frozen=True)
class Stack:
    env: dict[str, str]
    workdir: Path
    fill_mode: str
    fill_summary: dict[str, Any]


def run(cmd: list[str], env: dict[str, str], timeout_s: float = 600) -> str:
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[1:])} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    return done.stdout + done.stderr


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fill_with_pipeline(env: dict[str, str], work: Path, sim_port: int) -> dict[str, Any]:
    """openmeteo-sim → collect → Redis → store → detect: the real services, one cycle each."""
    procs: list[subprocess.Popen[bytes]] = []
    redis_port = free_port()
    try:
        procs.append(
            start(
                [
                    "redis-server",
                    "--port",
                    str(redis_port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(work),
                ],
                env,
                work / "redis.log",
            )
        )
        procs.append(
            start(
                [
                    PREEMPT,
                    "openmeteo-sim",
                    "--port",
                    str(sim_port),
                    "--seed",
                    "7",
                    "--anomaly-rate",
                    "0.5",
                    "--no-rate-limit",
                ],
                env,
                work / "sim.log",
            )
        )
        wait_port(redis_port)
        wait_port(sim_port)
        penv = {**env, "PREEMPT_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
        started = time.monotonic()
        logs = [
            run([PREEMPT, "collect", "--once"], penv),
            run([PREEMPT, "store", "--until-idle"], penv),
        ]
        procs.append(start([PREEMPT, "ml-trainer"], penv, work / "ml-trainer.log"))
        logs.append(run([PREEMPT, "detect", "--once"], penv))
        (work / "pipeline.log").write_text("\n".join(logs))
        return {"seconds": round(time.monotonic() - started, 1)}
    finally:
        for proc in reversed(procs):
            stop(proc)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """A migrated, seeded (892 locations) and filled SQLite database plus its config."""
    if not (DIST / "index.html").is_file():
        pytest.fail("frontend/dist is missing: run `npm --prefix frontend run build` first")
    work = tmp_path_factory.mktemp("e2e")
    sim_port = free_port()
    config = work / "config.yaml"
    config.write_text(
        json.dumps(
            {  # JSON is YAML
                # The emulator has no budget to respect: fetch every location in one collect cycle.
                "openmeteo": {
                    "url": f"http://127.0.0.1:{sim_port}/v1/forecast",
                    "calls_per_minute": 1e6,
                    "calls_per_hour": 1e7,
                    "calls_per_day": 1e8,
                },
                # Judge the last 3 days on the first cycle (default 1): markers on 3 d charts.
                "detect": {"initial_judge_s": "3d", "ml_timeout_s": "120s"},
                "server": {
                    "static_dir": str(DIST),
                    "events_poll_s": "1s",
                    "auth": {
                        "tokens": [
                            {
                                "name": f"e2e-{role}",
                                "role": role,
                                "sha256": sha256(token.encode()).hexdigest(),
                            }
                            for role, token in (("editor", EDITOR_TOKEN), ("viewer", VIEWER_TOKEN))
                        ]
                    },
                },
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "REDIS_", "PREEMPT_"))}
    env.update(
        {
            "PREEMPT_DATABASE_URL": f"sqlite:///{work / 'preempt.sqlite'}",
            "PREEMPT_CONFIG": str(config),
            "PREEMPT_VAR_DIR": str(work / "var"),
        }
    )
    run([PREEMPT, "migrate", "up"], env)
    mode = os.environ.get("E2E_FILL") or (
        "pipeline" if set(PIPELINE_COMMANDS) <= cli_commands() else "writers"
    )
    # The pipeline judges every sample of every location (about 0.2 s per location with ML):
    # by default the e2e run seeds the first E2E_LOCATIONS rows of the CSV; "all" seeds 892.
    wanted = os.environ.get("E2E_LOCATIONS", "150" if mode == "pipeline" else "all")
    csv = REPO / "data" / "locations.csv"
    if wanted != "all":
        rows = csv.read_text(encoding="utf-8").splitlines()
        csv = work / "locations.csv"
        csv.write_text("\n".join(rows[: int(wanted) + 1]) + "\n", encoding="utf-8")
    run([PREEMPT, "seed", "--csv", str(csv)], env)
    if mode == "pipeline":
        summary = fill_with_pipeline(env, work, sim_port)
    else:
        from tests.e2e.fill import fill

        summary = fill(env["PREEMPT_DATABASE_URL"], must_have=("Tokyo", "Lisbon"))
    (ARTIFACTS).mkdir(exist_ok=True)
    (ARTIFACTS / "e2e-fill.json").write_text(json.dumps({"mode": mode, **summary}, indent=1))
    return Stack(env=env, workdir=work, fill_mode=mode, fill_summary=summary)


@contextmanager
def serve(env: dict[str, str], log: Path, token: str | None = None) -> Iterator[str]:
    """`preempt server` on a free port with `env`; yields its base URL. `token` for warm-up
    requests when reads are closed."""
    port = free_port()
    proc = start([PREEMPT, "server", "--host", "127.0.0.1", "--port", str(port)], env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/health")
        for path in ("/", "/api/locations", "/api/overview?hours=72"):  # warm up, then measure
            wait_http(f"{base}{path}", token=token)
        yield base
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def server(stack: Stack) -> Iterator[str]:
    """`preempt server` on a free port; yields its base URL."""
    with serve(stack.env, stack.workdir / "server.log") as base:
        yield base


@pytest.fixture(scope="session")
def closed_server(stack: Stack) -> Iterator[str]:
    """A second server on the same database with `server.auth.reads_open: false`: every read,
    /events included, needs a viewer token (VIEWER_TOKEN) or higher."""
    config = json.loads(Path(stack.env["PREEMPT_CONFIG"]).read_text())
    config["server"]["auth"]["reads_open"] = False
    closed = stack.workdir / "config-closed-reads.yaml"
    closed.write_text(json.dumps(config))
    env = {**stack.env, "PREEMPT_CONFIG": str(closed)}
    with serve(env, stack.workdir / "server-closed-reads.log", token=VIEWER_TOKEN) as base:
        yield base


def api_get(base: str, path: str, token: str | None = None) -> Any:
    with urllib.request.urlopen(authorized(f"{base}{path}", token), timeout=10) as res:
        return json.loads(res.read())


@pytest.fixture(scope="session")
def busy_location(server: str) -> str:
    """The location with the most high/medium anomalies lately that also has open suggestions."""
    overview = api_get(server, "/api/overview?hours=72")["locations"]
    ranked = sorted(
        overview, key=lambda o: (-o["anomalies"]["high"] - o["anomalies"]["medium"], o["name"])
    )
    for row in ranked[:40]:
        name = urllib.request.quote(row["name"])
        suggestions = api_get(server, f"/api/alarm-suggestions?location={name}")["suggestions"]
        recent = api_get(server, f"/api/anomalies?location={name}&limit=5")["anomalies"]
        if any(s["status"] == "open" for s in suggestions) and recent:
            return str(row["name"])
    pytest.fail("no location has both anomalies and an open suggestion")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not chromium:
        pytest.fail("Chromium not found: apt-get install -y chromium (or set CHROMIUM)")
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@contextmanager
def open_page(browser: Any, base: str) -> Iterator[Any]:
    """A fresh browser context (no stored token) on `base`; fails on JavaScript errors."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=base)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield pg
    finally:
        context.close()
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    with open_page(browser, server) as pg:
        yield pg


@pytest.fixture
def closed_page(browser: Any, closed_server: str) -> Iterator[Any]:
    with open_page(browser, closed_server) as pg:
        yield pg


def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if full_page:
        page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=full_page)
    return path


def axe_serious(page: Any, context: str = "document") -> list[dict[str, Any]]:
    """Serious and critical axe-core violations in `context` (a selector or the document)."""
    if not AXE.is_file():
        pytest.fail("axe-core missing: run `npm --prefix frontend ci`")
    page.add_script_tag(path=str(AXE))
    target = "document" if context == "document" else json.dumps(context)
    result = page.evaluate(f"async () => await axe.run({target}, {{resultTypes: ['violations']}})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def insert_anomaly(stack: Stack, location: str, at: datetime, metric: str) -> None:
    """Write a new high anomaly straight to the database, as a detect process would: the
    live stream of every running server announces it."""
    from preempt.domain import Anomaly
    from preempt.storage.anomalies import upsert_anomalies
    from preempt.storage.engine import create_engine_for
    from preempt.storage.locations import get_location_by_name

    engine = create_engine_for(stack.env["PREEMPT_DATABASE_URL"])
    try:
        with engine.begin() as conn:
            loc = get_location_by_name(conn, location)
            assert loc is not None
            upsert_anomalies(
                conn,
                [
                    Anomaly(
                        location_id=loc.id,
                        metric_type=metric,
                        timestamp=at,
                        value=151.0,
                        score=0.97,
                        severity="high",
                        methods=("rules",),
                        explanation="e2e live test",
                        expected=12.0,
                        lower=2.0,
                        upper=30.0,
                    )
                ],
            )
    finally:
        engine.dispose()
