"""The emulator over real HTTP: the real API's shape, errors, limits, faults and ground truth."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import orjson
import pytest

from preempt.domain import PHYSICAL_RANGES
from preempt.openmeteo.emulator import (
    EmulatorConfig,
    EmulatorThread,
    FaultSettings,
    RateLimits,
    SimSettings,
)
from preempt.openmeteo.emulator.render import snap_to_grid
from preempt.simulation import AnomalyConfig, simulate_weather

pytestmark = pytest.mark.integration

NOW = 1_796_300_000.0  # 2026-12-03T12:13:20Z
FIVE = "temperature_2m,relative_humidity_2m,dew_point_2m,precipitation,wind_speed_10m"


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def sim() -> Iterator[EmulatorThread]:
    config = EmulatorConfig(
        sim=SimSettings(seed=3, anomalies=AnomalyConfig(rate_per_day=0.5)), rate_limit=False
    )
    with EmulatorThread(config, clock=Clock()) as server:
        yield server


def get(sim: EmulatorThread, **params: Any) -> httpx.Response:
    return httpx.get(sim.forecast_url, params=params, timeout=30)


def test_single_location_is_a_bare_object_in_the_server_key_order(sim: EmulatorThread) -> None:
    r = get(
        sim,
        latitude=52.52,
        longitude=13.41,
        hourly=FIVE,
        current=FIVE,
        past_hours=3,
        forecast_hours=3,
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    body = r.json()
    assert list(body) == [
        "latitude",
        "longitude",
        "generationtime_ms",
        "utc_offset_seconds",
        "timezone",
        "timezone_abbreviation",
        "elevation",
        "current_units",
        "current",
        "hourly_units",
        "hourly",
    ]
    assert body["latitude"] != 52.52 and abs(body["latitude"] - 52.52) < 0.1
    assert body["hourly"]["time"] == [f"2026-12-03T{h:02d}:00" for h in range(9, 15)]
    assert body["current"]["time"] == "2026-12-03T12:00" and body["current"]["interval"] == 900
    assert body["hourly_units"] == {
        "time": "iso8601",
        "temperature_2m": "°C",
        "relative_humidity_2m": "%",
        "dew_point_2m": "°C",
        "precipitation": "mm",
        "wind_speed_10m": "km/h",
    }
    assert all(isinstance(v, int) for v in body["hourly"]["relative_humidity_2m"] if v is not None)


def test_several_locations_are_a_list_with_location_id_after_the_first(sim: EmulatorThread) -> None:
    r = get(
        sim,
        latitude="52.52,40.71,-33.9",
        longitude="13.41,-74.01,151.2",
        hourly="temperature_2m",
        forecast_hours=2,
        timezone="auto",
        timeformat="unixtime",
    )
    body = r.json()
    assert isinstance(body, list) and len(body) == 3
    assert "location_id" not in body[0]
    assert [b.get("location_id") for b in body[1:]] == [1, 2]
    assert body[1]["utc_offset_seconds"] == -5 * 3600
    assert body[1]["timezone_abbreviation"] == "GMT-5"
    assert body[0]["hourly"]["time"] == [1796299200, 1796302800]  # unixtime stays UTC


def test_post_form_and_json_answer_like_get(sim: EmulatorThread) -> None:
    params = {
        "latitude": "10,20",
        "longitude": "30,40",
        "hourly": FIVE,
        "past_hours": "5",
        "forecast_hours": "0",
        "timeformat": "unixtime",
    }
    by_get = get(sim, **params).json()
    by_form = httpx.post(sim.forecast_url, data=params).json()
    by_json = httpx.post(
        sim.forecast_url, json={**params, "latitude": [10, 20], "longitude": [30, 40]}
    ).json()
    for body in (by_form, by_json):
        assert [b["hourly"] for b in body] == [b["hourly"] for b in by_get]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        (
            {"latitude": 52.5, "longitude": 13.4, "hourly": "tempeture_2m"},
            "Data corrupted at path ''. Cannot initialize ForecastVariable from invalid String "
            "value tempeture_2m.",
        ),
        (
            {"latitude": 200, "longitude": 13.4},
            "Latitude must be in range of -90 to 90°. Given: 200.0.",
        ),
        (
            {"latitude": "1,2", "longitude": 3},
            "Parameter 'latitude' and 'longitude' must have the same number of elements",
        ),
        ({"latitude": 1, "longitude": 2, "timezone": "Mars/Olympus"}, "Invalid timezone"),
        (
            {"latitude": 1, "longitude": 2, "past_days": 100},
            "Past days is invalid. Allowed range 0 to 93. Given 100.",
        ),
        (
            {
                "latitude": 1,
                "longitude": 2,
                "past_days": 2,
                "start_date": "2026-12-01",
                "end_date": "2026-12-02",
            },
            "Parameter 'past_days' is mutually exclusive with 'start_date' and 'end_date'",
        ),
        (
            {"latitude": 1, "longitude": 2, "temperature_unit": "kelvin"},
            "Data corrupted at path ''. Cannot initialize TemperatureUnit from invalid String "
            "value kelvin.",
        ),
    ],
)
def test_bad_parameters_get_the_real_error_texts(
    sim: EmulatorThread, params: dict[str, Any], reason: str
) -> None:
    r = get(sim, **params)
    assert r.status_code == 400
    assert r.json() == {"error": True, "reason": reason}


def test_more_than_1000_locations_are_refused(sim: EmulatorThread) -> None:
    lats = ",".join(["1.0"] * 1001)
    r = httpx.post(sim.forecast_url, data={"latitude": lats, "longitude": lats})
    assert r.json()["reason"] == "Only up to 1000 locations can be requested at once"


def test_output_is_physical_and_deterministic_for_a_seed(sim: EmulatorThread) -> None:
    rng = np.random.default_rng(5)
    lats = rng.uniform(-70, 75, 200).round(3)
    lons = rng.uniform(-180, 180, 200).round(3)
    common = {
        "latitude": ",".join(map(str, lats)),
        "longitude": ",".join(map(str, lons)),
        "hourly": FIVE,
        "timeformat": "unixtime",
    }
    week = httpx.post(sim.forecast_url, data={**common, "past_hours": 168, "forecast_hours": 0})
    day = httpx.post(sim.forecast_url, data={**common, "past_hours": 24, "forecast_hours": 0})
    for a, b in zip(week.json(), day.json(), strict=True):
        assert a["hourly"]["time"][-24:] == b["hourly"]["time"]
        for metric in FIVE.split(","):
            assert a["hourly"][metric][-24:] == b["hourly"][metric]
            values = [v for v in a["hourly"][metric] if v is not None]
            low, high = PHYSICAL_RANGES[metric]
            assert low <= min(values) and max(values) <= high


def test_labels_match_the_injected_anomalies(sim: EmulatorThread) -> None:
    lats, lons = [48.1, -23.5, 35.7, 61.2], [11.6, -46.6, 139.7, -149.9]
    params = {
        "latitude": ",".join(map(str, lats)),
        "longitude": ",".join(map(str, lons)),
        "hourly": FIVE,
        "timeformat": "unixtime",
        "past_hours": 168,
        "forecast_hours": 0,
    }
    served = httpx.post(sim.forecast_url, data=params).json()
    times = np.array(served[0]["hourly"]["time"])
    labels = httpx.get(
        f"{sim.base_url}/_sim/labels",
        params={
            "latitude": params["latitude"],
            "longitude": params["longitude"],
            "start": int(times[0]),
            "end": int(times[-1]),
        },
    ).json()["labels"]
    assert labels, "rate 0.5/day over 4 locations x 7 days must inject something"
    cell_lat, cell_lon = snap_to_grid(lats, lons, 0.1)
    clean = simulate_weather(cell_lat, cell_lon, times, seed=3)
    for metric in FIVE.split(","):
        decimals = {"relative_humidity_2m": 0, "precipitation": 2}.get(metric, 1)
        for i in range(len(lats)):
            got = np.array(served[i]["hourly"][metric], dtype=float)
            expected = np.round(clean[metric][i], decimals)
            differs = ~np.isclose(got, expected, atol=10**-decimals * 1.01)
            labelled = np.zeros(times.size, dtype=bool)
            for lb in labels:
                if lb["location_index"] == i and lb["metric"] == metric:
                    inside = (times >= lb["start_s"]) & (times < lb["end_s"])
                    labelled |= inside
                    if lb["kind"] == "dropout":
                        assert np.isnan(got[inside]).all()
            assert not (differs & ~labelled).any(), (metric, i)
    assert "labels" not in str(served)


def test_rate_limits_count_weights_and_reset_on_the_minute() -> None:
    clock = Clock(NOW - NOW % 60 + 5)
    config = EmulatorConfig(
        rate_limit=True, limits=RateLimits(per_minute=10, per_hour=100, per_day=1000)
    )
    with EmulatorThread(config, clock=clock) as server:
        params = {"latitude": "1,2,3,4", "longitude": "1,2,3,4", "current": "temperature_2m"}
        codes = [httpx.get(server.forecast_url, params=params).status_code for _ in range(3)]
        assert codes == [200, 200, 200]  # 0 -> 4 -> 8 -> 12: admitted while below the limit
        r = httpx.get(server.forecast_url, params=params)
        assert r.status_code == 429
        assert r.json()["reason"] == (
            "Minutely API request limit exceeded. Please try again in one minute."
        )
        clock.now += 60
        bad = httpx.get(
            server.forecast_url, params={"latitude": 1, "longitude": 1, "hourly": "nope"}
        )
        assert bad.status_code == 400
        stats = httpx.get(f"{server.base_url}/_sim/stats").json()
        assert stats["usage"]["127.0.0.1"] == {"minute": 1.0, "hour": 13.0, "day": 13.0}
        heavy = httpx.post(
            server.forecast_url,
            data={
                "latitude": ",".join(["1"] * 101),
                "longitude": ",".join(["1"] * 101),
                "current": "temperature_2m",
            },
        )
        assert heavy.json()["reason"].startswith("Your API call requests too much data")


def test_one_request_at_a_time_per_client_then_429() -> None:
    config = EmulatorConfig(
        rate_limit=True,
        limits=RateLimits(queue=0),
        faults=FaultSettings(share_slow=1.0, slow_s=0.5),
    )
    with EmulatorThread(config) as server:
        codes: list[int] = []

        def call() -> None:
            r = httpx.get(
                server.forecast_url,
                params={"latitude": 1, "longitude": 1, "current": "temperature_2m"},
            )
            codes.append(r.status_code)

        threads = [threading.Thread(target=call) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes) == [200, 429, 429]


def test_faults_reset_malformed_and_overload() -> None:
    for faults, check in (
        (FaultSettings(share_reset=1.0), "reset"),
        (FaultSettings(share_malformed=1.0), "malformed"),
        (FaultSettings(share_503=1.0), "503"),
    ):
        with EmulatorThread(EmulatorConfig(rate_limit=False, faults=faults)) as server:
            params = {"latitude": "1,2", "longitude": "1,2", "current": "temperature_2m"}
            if check == "reset":
                with pytest.raises(httpx.RemoteProtocolError):
                    httpx.get(server.forecast_url, params=params)
            elif check == "malformed":
                with pytest.raises(orjson.JSONDecodeError):
                    orjson.loads(httpx.get(server.forecast_url, params=params).content)
            else:
                r = httpx.get(server.forecast_url, params=params)
                assert (r.status_code, r.json()["reason"]) == (503, "The service is overloaded")


def test_an_oversized_get_url_drops_the_connection() -> None:
    config = EmulatorConfig(rate_limit=False, max_url_chars=2000)
    with EmulatorThread(config) as server:
        lats = ",".join(["12.3456"] * 400)
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(server.forecast_url, params={"latitude": lats, "longitude": lats})
        assert httpx.post(
            server.forecast_url,
            data={"latitude": lats, "longitude": lats, "current": "temperature_2m"},
        ).is_success


@pytest.mark.slow
def test_the_cli_serves_the_emulator() -> None:
    import subprocess
    import sys
    import time

    from preempt.openmeteo.emulator.server import free_port

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "preempt",
            "openmeteo-sim",
            "--port",
            str(port),
            "--seed",
            "7",
            "--anomaly-rate",
            "1",
            "--no-rate-limit",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(
                    f"http://127.0.0.1:{port}/v1/forecast",
                    params={"latitude": 1, "longitude": 2, "current": FIVE},
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        assert r.status_code == 200 and set(FIVE.split(",")) <= set(r.json()["current"])
        labels = httpx.get(f"http://127.0.0.1:{port}/_sim/labels").json()
        assert labels["count"] == len(labels["labels"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
