"""Open-Meteo forecast client: batched multi-location calls, a weighted call budget, retries
with backoff and jitter, a circuit breaker, and per-location parsing that keeps what is usable.

Exceptions (all PreemptError):
 UpstreamError
  ├── BudgetExhausted   the budget (or the server's 429) needs a longer pause than max_wait_s
  └── CircuitOpen       too many consecutive failures: calls are paused for breaker_pause_s
Both stop a fetch early and are reported, not raised: FetchReport.stopped_by/stop_reason say
why, batches not sent are counted in `errors`, the batches already fetched are kept.
A 400 (our request is wrong) loses its batch and is counted.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn
from urllib.parse import urlencode

import httpx
import orjson

from preempt.config import OpenMeteoSettings
from preempt.errors import UpstreamError
from preempt.openmeteo.budget import BudgetLimits, CallBudget
from preempt.openmeteo.parse import LocationSeries, MalformedBody, parse_body
from preempt.openmeteo.weights import ERROR_WEIGHT, request_weight

logger = logging.getLogger(__name__)

FREE_HOST_PREFIX = "https://api.open-meteo.com/"
CUSTOMER_HOST_PREFIX = "https://customer-api.open-meteo.com/"
MAX_LOCATIONS_PER_CALL = 1000
SOURCE = "open-meteo"
# The server's default forecast window (past_days=0, forecast_days=7) weighs `current` calls.
_DEFAULT_WINDOW_DAYS = 7


class BudgetExhausted(UpstreamError):
    """The call budget needs a longer pause than the client may wait."""


class CircuitOpen(UpstreamError):
    """Calls are paused after repeated failures."""


Coordinates = tuple[float, float]


@dataclass(slots=True)
class FetchReport:
    """series[i] belongs to locations[i] (None: lost); errors counts what went wrong by kind."""

    series: list[LocationSeries | None]
    calls_used: float = 0.0
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    stopped_by: str | None = None  # "budget" or "circuit" when the fetch ended early
    stop_reason: str | None = None  # one line saying why

    @property
    def fetched(self) -> int:
        return sum(1 for s in self.series if s is not None)


@dataclass(slots=True)
class CircuitBreaker:
    """Opens after `failures` consecutive failed attempts; one trial call after `pause_s`."""

    failures: int
    pause_s: float
    clock: Callable[[], float]
    consecutive: int = 0
    open_until: float = 0.0

    def check(self) -> None:
        if self.consecutive >= self.failures and self.clock() < self.open_until:
            raise CircuitOpen(
                f"Open-Meteo paused for {self.open_until - self.clock():.0f} s after "
                f"{self.consecutive} consecutive failures"
            )

    def success(self) -> None:
        self.consecutive = 0

    def failure(self) -> None:
        self.consecutive += 1
        if self.consecutive >= self.failures:
            self.open_until = self.clock() + self.pause_s

    @property
    def is_open(self) -> bool:
        return self.consecutive >= self.failures and self.clock() < self.open_until


class _Retry(Exception):
    def __init__(self, kind: str, wait_s: float | None = None, *, spent: float) -> None:
        super().__init__(kind)
        self.kind = kind
        self.wait_s = wait_s
        self.spent = spent


class OpenMeteoClient:
    """Fetches hourly history and current values for many locations (units °C, %, mm, km/h).

    `transport`, `clock`, `sleep` and `rng` are seams for tests; defaults are the real ones.
    """

    def __init__(
        self,
        settings: OpenMeteoSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.url = _endpoint(settings)
        self.budget = CallBudget(
            BudgetLimits(
                settings.calls_per_minute, settings.calls_per_hour, settings.calls_per_day
            ),
            clock,
        )
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_pause_s, clock)
        self._http = httpx.Client(
            timeout=settings.timeout_s,
            transport=transport,
            headers={"accept-encoding": "gzip", "user-agent": "preempt-collect"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OpenMeteoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def batch_size(self) -> int:
        return min(self.settings.batch_size, MAX_LOCATIONS_PER_CALL)

    def fetch_hourly(
        self,
        locations: Sequence[Coordinates],
        metrics: Sequence[str],
        *,
        past_hours: int,
        forecast_hours: int = 1,
    ) -> FetchReport:
        """Hourly values from floor(now, 1 h) - past_hours for past_hours + forecast_hours steps.

        Precipitation is the sum over the preceding hour; other metrics are instantaneous.
        """
        days = (past_hours + forecast_hours) // 24
        params = {
            "hourly": ",".join(metrics),
            "past_hours": str(past_hours),
            "forecast_hours": str(forecast_hours),
        }
        return self._fetch(locations, metrics, params, section="hourly", days=days)

    def fetch_current(
        self, locations: Sequence[Coordinates], metrics: Sequence[str]
    ) -> FetchReport:
        """The current 15-minute step (time = floor(now, 15 min); precipitation over it)."""
        params = {"current": ",".join(metrics)}
        return self._fetch(locations, metrics, params, section="current", days=_DEFAULT_WINDOW_DAYS)

    def weight_per_location(self, n_metrics: int, days: int) -> float:
        return request_weight(1, n_metrics, days)

    def _fetch(
        self,
        locations: Sequence[Coordinates],
        metrics: Sequence[str],
        params: dict[str, str],
        *,
        section: str,
        days: int,
    ) -> FetchReport:
        report = FetchReport(series=[None] * len(locations))
        size = self.batch_size
        for start in range(0, len(locations), size):
            batch = locations[start : start + size]
            try:
                result = self._fetch_batch(batch, metrics, params, section, days, report)
            except (BudgetExhausted, CircuitOpen) as exc:
                report.stopped_by = "budget" if isinstance(exc, BudgetExhausted) else "circuit"
                report.stop_reason = str(exc)
                lost = len(locations) - start
                report.errors[f"{report.stopped_by}_skipped_locations"] += lost
                logger.warning("Open-Meteo fetch stopped, %d locations not fetched: %s", lost, exc)
                break
            if result is not None:
                report.series[start : start + len(batch)] = result
        return report

    def _fetch_batch(
        self,
        batch: Sequence[Coordinates],
        metrics: Sequence[str],
        params: dict[str, str],
        section: str,
        days: int,
        report: FetchReport,
    ) -> list[LocationSeries | None] | None:
        weight = request_weight(len(batch), len(metrics), days)
        query = {
            "latitude": ",".join(f"{lat:.4f}" for lat, _ in batch),
            "longitude": ",".join(f"{lon:.4f}" for _, lon in batch),
            **params,
            "timeformat": "unixtime",
            "timezone": "GMT",
        }
        if self.settings.api_key is not None:
            query["apikey"] = self.settings.api_key.get_secret_value()
        force_post = False
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            self._wait_for_budget(weight)
            self.breaker.check()
            report.requests += 1
            try:
                body = self._send(query, force_post=force_post, weight=weight)
                series = parse_body(
                    body,
                    n_locations=len(batch),
                    section=section,
                    metrics=metrics,
                    errors=report.errors,
                )
            except _Retry as retry:
                report.calls_used += retry.spent
                report.errors[retry.kind] += 1
                if retry.kind == "connection":
                    force_post = True  # a dropped GET is often a URL too long for a proxy
                if attempt + 1 == attempts:
                    logger.error(
                        "Open-Meteo batch of %d locations lost after %d attempts (%s)",
                        len(batch),
                        attempts,
                        retry.kind,
                    )
                    report.errors["lost_batches"] += 1
                    return None
                self._back_off(retry, attempt)
                continue
            except MalformedBody as exc:
                report.calls_used += weight
                report.errors["malformed_body"] += 1
                self.breaker.failure()
                logger.warning("Open-Meteo body unusable (%s), retrying", exc)
                if attempt + 1 == attempts:
                    report.errors["lost_batches"] += 1
                    return None
                self._back_off(_Retry("malformed_body", spent=0.0), attempt)
                continue
            except _BadRequest as exc:
                report.calls_used += ERROR_WEIGHT
                report.errors["bad_request"] += 1
                report.errors["lost_batches"] += 1
                logger.error("Open-Meteo rejected a batch of %d locations: %s", len(batch), exc)
                return None
            report.calls_used += weight
            self.breaker.success()
            return series
        return None

    def _send(self, query: dict[str, str], *, force_post: bool, weight: float) -> bytes:
        """One HTTP exchange; spends the budget like the server counts it."""
        encoded = urlencode(query, safe=",")
        try:
            if force_post or len(self.url) + 1 + len(encoded) > self.settings.max_url_chars:
                response = self._http.post(
                    self.url,
                    content=encoded.encode(),
                    headers={"content-type": "application/x-www-form-urlencoded"},
                )
            else:
                response = self._http.get(f"{self.url}?{encoded}")
        except httpx.TimeoutException as exc:
            self._failed(ERROR_WEIGHT)
            raise _Retry("timeout", spent=ERROR_WEIGHT) from exc
        except httpx.TransportError as exc:
            self._failed(ERROR_WEIGHT)
            raise _Retry("connection", spent=ERROR_WEIGHT) from exc
        status = response.status_code
        if status == 200:
            self.budget.spend(weight)
            return response.content
        reason = _reason(response)
        if status == 429:
            self._too_many(reason, response.headers.get("retry-after"))
        if status >= 500:
            self._failed(ERROR_WEIGHT)
            raise _Retry(f"http_{status}", spent=ERROR_WEIGHT)
        self.budget.spend(ERROR_WEIGHT)
        raise _BadRequest(f"HTTP {status}: {reason}")

    def _too_many(self, reason: str, retry_after: str | None) -> NoReturn:
        """Map a 429 to a wait: the limit named in the reason decides how long."""
        now = self._clock()
        wait: float | None = None
        if retry_after and retry_after.strip().isdigit():
            wait = float(retry_after)
        elif reason.startswith("Minutely"):
            wait = 60.0 - now % 60 + self._rng.uniform(0.05, 0.5)
        elif reason.startswith("Hourly"):
            wait = 3600.0 - now % 3600 + self._rng.uniform(0.05, 0.5)
        elif reason.startswith("Daily"):
            wait = 86400.0 - now % 86400 + self._rng.uniform(0.05, 0.5)
        if wait is not None and wait > self.settings.max_wait_s:
            raise BudgetExhausted(f"Open-Meteo says: {reason} (next try in {wait:.0f} s)")
        raise _Retry("http_429", wait, spent=0.0)

    def _failed(self, weight: float) -> None:
        self.budget.spend(weight)
        self.breaker.failure()

    def _wait_for_budget(self, weight: float) -> None:
        wait = self.budget.wait_s(weight)
        if wait > self.settings.max_wait_s:
            used = self.budget.used()
            raise BudgetExhausted(
                f"call budget used up (minute {used['minute']:.0f}/"
                f"{self.budget.limits.per_minute:.0f}, hour {used['hour']:.0f}/"
                f"{self.budget.limits.per_hour:.0f}, day {used['day']:.0f}/"
                f"{self.budget.limits.per_day:.0f}); next call in {wait:.0f} s"
            )
        if wait > 0:
            logger.info(
                "Open-Meteo budget: pausing %.1f s before a call of weight %.0f", wait, weight
            )
            self._sleep(wait)

    def _back_off(self, retry: _Retry, attempt: int) -> None:
        if retry.wait_s is not None:
            wait = retry.wait_s
        else:
            ceiling = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2.0**attempt)
            wait = self._rng.uniform(ceiling / 2, ceiling)  # "equal jitter"
        logger.warning("Open-Meteo %s, retry %d in %.2f s", retry.kind, attempt + 1, wait)
        self._sleep(wait)


class _BadRequest(Exception):
    pass


def _reason(response: httpx.Response) -> str:
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text[:200]
    if isinstance(data, dict) and isinstance(data.get("reason"), str):
        return str(data["reason"])
    return response.text[:200]


def _endpoint(settings: OpenMeteoSettings) -> str:
    """The configured URL; with an API key the free host is swapped for the customer host."""
    url = settings.url
    if settings.api_key is not None and url.startswith(FREE_HOST_PREFIX):
        url = CUSTOMER_HOST_PREFIX + url.removeprefix(FREE_HOST_PREFIX)
    return url
