"""The emulator's HTTP app: /v1/forecast (GET and POST) like the real API, plus /_sim/labels
(ground truth of injected anomalies, never part of a forecast) and /_sim/stats (faults served,
counters per client) for tests and the detection evaluation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from preempt.openmeteo.emulator.limits import (
    CONCURRENCY_REASON,
    OVERLOADED_REASON,
    TOO_MUCH_DATA_REASON,
    ConcurrencyGate,
    FaultDice,
    FaultSettings,
    RateLimiter,
    RateLimits,
    TooManyConcurrent,
)
from preempt.openmeteo.emulator.query import (
    ForecastQuery,
    QueryError,
    collect_params,
    hourly_window,
    params_from_json,
    parse_query,
    query_weight,
)
from preempt.openmeteo.emulator.render import SimSettings, render_locations, snap_to_grid
from preempt.simulation import METRICS, inject_anomalies

logger = logging.getLogger(__name__)

JSON_TYPE = "application/json; charset=utf-8"
MAX_BODY_BYTES = 128 * 1024


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    sim: SimSettings = field(default_factory=SimSettings)
    rate_limit: bool = True
    limits: RateLimits = field(default_factory=RateLimits)
    faults: FaultSettings = field(default_factory=FaultSettings)
    max_locations: int = 1000
    max_url_chars: int = 65536  # longer GET URLs get their connection dropped


@dataclass
class _Stats:
    requests: int = 0
    served: int = 0
    locations_served: int = 0
    weight_served: float = 0.0
    rate_limited: int = 0
    concurrency_rejected: int = 0
    bad_request: int = 0
    faults: dict[str, int] = field(default_factory=dict)

    def fault(self, kind: str, count: int = 1) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + count


@dataclass
class _Served:
    """Cells and time span served so far: the default scope of /_sim/labels."""

    cells: dict[tuple[float, float], None] = field(default_factory=dict)
    first_s: int | None = None
    last_s: int | None = None

    def add(self, lat: np.ndarray, lon: np.ndarray, first_s: int, last_s: int) -> None:
        for pair in zip(lat.tolist(), lon.tolist(), strict=True):
            self.cells[pair] = None
        self.first_s = first_s if self.first_s is None else min(self.first_s, first_s)
        self.last_s = last_s if self.last_s is None else max(self.last_s, last_s)


def create_app(config: EmulatorConfig, *, clock: Callable[[], float] = time.time) -> FastAPI:
    """The emulator; `clock` (epoch seconds) decides "now" for windows and rate counters."""
    app = FastAPI(title="Open-Meteo emulator", docs_url=None, redoc_url=None, openapi_url=None)
    logging.getLogger("uvicorn.error").addFilter(QuietEmulatedResets())
    limiter = RateLimiter(config.limits, clock)
    gate = ConcurrencyGate(config.limits.queue)
    dice = FaultDice(config.faults, config.sim.seed)
    stats = _Stats()
    served = _Served()

    async def forecast(request: Request) -> Response:
        stats.requests += 1
        client = request.client.host if request.client else "unknown"
        if len(str(request.url)) > config.max_url_chars:
            stats.fault("url_too_long")
            return _ConnectionDrop()
        if not config.rate_limit:
            return await _serve(request, client)
        try:
            async with gate.slot(client):
                return await _serve(request, client)
        except TooManyConcurrent:
            stats.concurrency_rejected += 1
            return _error(429, CONCURRENCY_REASON)

    async def _serve(request: Request, client: str) -> Response:
        if config.rate_limit and (reason := limiter.check(client)):
            stats.rate_limited += 1
            return _error(429, reason)
        fault = dice.request_fault() if config.faults.any() else None
        if fault == "429":
            stats.fault("429")
            return _error(429, CONCURRENCY_REASON)
        if fault == "503":
            stats.fault("503")
            return _error(503, OVERLOADED_REASON)
        if fault == "reset":
            stats.fault("reset")
            return _ConnectionDrop()
        if fault == "slow":
            stats.fault("slow")
            await asyncio.sleep(config.faults.slow_s)
        try:
            params = await _params(request)
            now_s = int(clock())
            today = datetime.fromtimestamp(now_s, UTC).date()
            query = parse_query(params, today=today, max_locations=config.max_locations)
            weight = query_weight(query, now_s=now_s)
            if config.rate_limit and weight > config.limits.per_hour:
                raise QueryError(TOO_MUCH_DATA_REASON)
        except QueryError as exc:
            stats.bad_request += 1
            limiter.add(client, 1.0)
            return _error(400, str(exc))
        except _PayloadTooLarge:
            stats.bad_request += 1
            limiter.add(client, 1.0)
            return _error(413, "Payload Too Large")
        body = await run_in_threadpool(_render, query, now_s)
        if fault == "malformed":
            stats.fault("malformed")
            body = body[: max(1, len(body) // 2)]
        limiter.add(client, weight)
        stats.served += 1
        stats.locations_served += query.n_locations
        stats.weight_served += weight
        return Response(content=body, media_type=JSON_TYPE)

    def _render(query: ForecastQuery, now_s: int) -> bytes:
        objects, cell_lat, cell_lon = render_locations(query, now_s=now_s, sim=config.sim)
        window = hourly_window(query, now_s=now_s, offset_s=0)
        first = min(window.start_s, now_s // 900 * 900)
        last = max(window.start_s + (window.n - 1) * window.step_s, now_s // 900 * 900)
        served.add(cell_lat, cell_lon, first, last)
        for index, kind in dice.bad_locations(len(objects)):
            stats.fault(f"bad_location:{kind}")
            objects[index] = _corrupt(objects[index], kind)
        payload: Any = objects[0] if len(objects) == 1 else objects
        return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)

    app.add_api_route("/v1/forecast", forecast, methods=["GET", "POST"])

    async def labels(request: Request) -> Response:
        """Ground truth: injected anomalies of given (or all served) locations in a time span."""
        params = collect_params(list(request.query_params.multi_items()))
        try:
            lats = [float(v) for v in params.get("latitude", [])]
            lons = [float(v) for v in params.get("longitude", [])]
            start_s = _epoch(params.get("start", [None])[0], served.first_s)
            end_s = _epoch(params.get("end", [None])[0], served.last_s)
        except ValueError as exc:
            return _error(400, str(exc))
        if len(lats) != len(lons):
            return _error(
                400, "Parameter 'latitude' and 'longitude' must have the same number of elements"
            )
        if lats:
            cell_lat, cell_lon = snap_to_grid(lats, lons, config.sim.grid_deg)
        else:
            pairs = list(served.cells)
            cell_lat = np.array([p[0] for p in pairs], dtype=np.float64)
            cell_lon = np.array([p[1] for p in pairs], dtype=np.float64)
        if start_s is None or end_s is None or cell_lat.size == 0:
            return Response(orjson.dumps({"labels": [], "count": 0}), media_type=JSON_TYPE)
        items = await run_in_threadpool(
            _labels,
            cell_lat,
            cell_lon,
            start_s,
            end_s,
            config.sim,
            lats if lats else None,
            lons if lons else None,
        )
        return Response(orjson.dumps({"labels": items, "count": len(items)}), media_type=JSON_TYPE)

    async def sim_stats(request: Request) -> Response:
        body = {
            "requests": stats.requests,
            "served": stats.served,
            "locations_served": stats.locations_served,
            "weight_served": stats.weight_served,
            "rate_limited": stats.rate_limited,
            "concurrency_rejected": stats.concurrency_rejected,
            "bad_request": stats.bad_request,
            "faults": stats.faults,
            "usage": {c: limiter.usage(c) for c in limiter.clients()},
            "rate_limit": config.rate_limit,
            "limits": {
                "minute": config.limits.per_minute,
                "hour": config.limits.per_hour,
                "day": config.limits.per_day,
            },
        }
        return Response(orjson.dumps(body), media_type=JSON_TYPE)

    app.add_api_route("/_sim/labels", labels, methods=["GET"])
    app.add_api_route("/_sim/stats", sim_stats, methods=["GET"])
    return app


class _PayloadTooLarge(Exception):
    pass


async def _params(request: Request) -> dict[str, list[str]]:
    pairs = list(request.query_params.multi_items())
    if request.method == "POST":
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise _PayloadTooLarge
        content_type = request.headers.get("content-type", "")
        if "json" in content_type:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise QueryError(f"Invalid JSON body: {exc}") from exc
            if not isinstance(body, dict):
                raise QueryError("The JSON body must be an object")
            merged = collect_params(pairs)
            for name, values in params_from_json(body).items():
                merged.setdefault(name, []).extend(values)
            return merged
        pairs += parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=False)
    return collect_params(pairs)


def _error(status: int, reason: str) -> Response:
    return Response(
        content=orjson.dumps({"error": True, "reason": reason}),
        status_code=status,
        media_type=JSON_TYPE,
    )


class QuietEmulatedResets(logging.Filter):
    """Drops the server's traceback for connections the emulator drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, ConnectionResetError) and str(exc) == _RESET_TEXT)


_RESET_TEXT = "emulated connection reset"


class _ConnectionDrop(Response):
    """Announces a body, sends part of it, then the server drops the connection."""

    def __init__(self) -> None:
        super().__init__(content=b"", media_type=JSON_TYPE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", JSON_TYPE.encode()), (b"content-length", b"100000")],
            }
        )
        await send({"type": "http.response.body", "body": b'[{"latitude":', "more_body": True})
        raise ConnectionResetError(_RESET_TEXT)


def _corrupt(obj: dict[str, Any], kind: str) -> Any:
    section = next((s for s in ("hourly", "minutely_15", "current") if s in obj), None)
    if kind == "not_an_object" or section is None:
        return "corrupted"
    block = dict(obj[section])
    variables = [k for k in block if k not in ("time", "interval")]
    if not variables:
        return "corrupted"
    victim = variables[0]
    if kind == "missing_variable":
        del block[victim]
    elif kind == "short_array" and section != "current":
        block[victim] = list(block[victim])[:-1] if len(block[victim]) else []
    else:
        value = block[victim]
        block[victim] = ["n/a"] * len(value) if section != "current" else "n/a"
    out = dict(obj)
    out[section] = block
    return out


def _epoch(raw: str | None, default: int | None) -> int | None:
    if raw is None:
        return default
    if raw.lstrip("-").isdigit():
        return int(raw)
    parsed = datetime.fromisoformat(raw)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def _labels(
    cell_lat: np.ndarray,
    cell_lon: np.ndarray,
    start_s: int,
    end_s: int,
    sim: SimSettings,
    req_lat: list[float] | None,
    req_lon: list[float] | None,
) -> list[dict[str, Any]]:
    if sim.anomalies.rate_per_day <= 0:
        return []
    # Events start on full hours and last whole hours: an hourly grid sees every one of them.
    times = np.arange(start_s // 3600 * 3600, end_s + 1, 3600, dtype=np.int64)
    zeros = {m: np.zeros((cell_lat.size, times.size)) for m in METRICS}
    injection = inject_anomalies(
        cell_lat, cell_lon, times, zeros, seed=sim.seed, step_s=3600, config=sim.anomalies
    )
    out: list[dict[str, Any]] = []
    for label in injection.labels:
        item: dict[str, Any] = {
            "location_index": label.location_index,
            "latitude": label.latitude,
            "longitude": label.longitude,
            "metric": label.metric,
            "kind": label.kind,
            "start": _iso(label.start_s),
            "end": _iso(label.end_s),
            "start_s": label.start_s,
            "end_s": label.end_s,
            "magnitude": None if np.isnan(label.magnitude) else label.magnitude,
        }
        if req_lat is not None and req_lon is not None:
            item["requested_latitude"] = req_lat[label.location_index]
            item["requested_longitude"] = req_lon[label.location_index]
        out.append(item)
    return out


def _iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")
