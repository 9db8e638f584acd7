"""The REST API against real MariaDB: SEED.md's shapes, /api aliases, filters, paging, errors."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from preempt.api.schemas import AnomalyList, MetricsOut, Overview, SuggestionList

from .test_api_support import (  # noqa: F401 - fixtures
    ADMIN,
    EDITOR,
    NOW,
    ODD_NAME,
    bearer,
    client_fixture,
    make_app,
    seeded_fixture,
)


def test_locations_has_seed_shape(client: TestClient, seeded: dict[str, int]) -> None:
    body = client.get("/locations").json()
    assert body["count"] == 3
    assert body["locations"][0] == {
        "id": seeded["Tokyo"], "name": "Tokyo", "latitude": 35.6762, "longitude": 139.6503,
        "country_code": "", "timezone": "UTC",
    }


@pytest.mark.parametrize("path", ["/locations", "/metrics?location=Tokyo",
                                  "/anomalies?location=Tokyo",
                                  "/alarm-suggestions?location=Tokyo", "/overview"])
def test_api_prefix_answers_the_same(client: TestClient, seeded: dict[str, int],
                                     path: str) -> None:
    plain, aliased = client.get(path), client.get(f"/api{path}")
    assert plain.status_code == aliased.status_code == 200
    for body in (plain.json(), aliased.json()):
        body.pop("since", None), body.pop("until", None)
    assert plain.json().keys() == aliased.json().keys()


def test_metrics_default_24_hours_of_every_monitored_metric(
    client: TestClient, seeded: dict[str, int]
) -> None:
    body = client.get("/metrics", params={"location": "Tokyo"}).json()
    MetricsOut.model_validate(body)
    assert body["location"] == "Tokyo" and body["hours"] == 24
    temps = body["metrics"]["temperature_2m"]
    assert temps["unit"] == "°C"
    assert temps["count"] == 24  # hours 0..23 back from the top of this hour
    assert temps["data"][0]["timestamp"] < temps["data"][-1]["timestamp"]
    assert body["metrics"]["precipitation"]["count"] == 0
    assert body["count"] == 48


def test_metrics_type_hours_and_since_until(client: TestClient, seeded: dict[str, int]) -> None:
    body = client.get("/metrics", params={"location": "Tokyo", "type": "wind_speed_10m",
                                          "hours": 3}).json()
    assert list(body["metrics"]) == ["wind_speed_10m"]
    assert body["metrics"]["wind_speed_10m"]["count"] == 3
    since = (NOW - timedelta(hours=10)).isoformat()
    until = (NOW - timedelta(hours=5)).isoformat() + "+00:00"
    ranged = client.get("/metrics", params={"location": "Tokyo", "since": since,
                                            "until": until, "type": "temperature_2m"}).json()
    assert ranged["count"] == 5  # 10, 9, 8, 7, 6 hours ago; until is exclusive


def test_metrics_with_expected_band_from_the_detection_core(
    client: TestClient, seeded: dict[str, int]
) -> None:
    body = client.get("/metrics", params={"location": "Tokyo", "type": "temperature_2m",
                                          "bands": "true"}).json()
    assert body["bands"] is True
    points = body["metrics"]["temperature_2m"]["data"]
    assert len(points) == 24
    banded = [p for p in points if p["expected"] is not None]
    assert banded and all(p["lower"] <= p["expected"] <= p["upper"] for p in banded)


def test_bands_from_the_first_representable_day_are_not_an_error(
    client: TestClient, seeded: dict[str, int]
) -> None:
    # the band's extra week of history before year 1 cannot be computed: it starts at year 1
    params = {"location": "Tokyo", "type": "temperature_2m", "since": "0001-01-03T00:00:00Z"}
    response = client.get("/metrics", params={**params, "bands": "true"})
    assert response.status_code == 200
    plain = client.get("/metrics", params=params).json()
    assert response.json()["count"] == plain["count"] > 0


def test_unknown_query_parameter_is_422_naming_it(
    client: TestClient, seeded: dict[str, int]
) -> None:
    response = client.get("/metrics", params={"location": "Tokyo", "hour": 48})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.hour"


def test_anomalies_newest_first_with_band_and_methods(
    client: TestClient, seeded: dict[str, int]
) -> None:
    body = client.get("/anomalies", params={"location": "Tokyo"}).json()
    AnomalyList.model_validate(body)
    assert body["count"] == 3
    first = body["anomalies"][0]
    assert first["severity"] == "high" and first["methods"] == ["seasonal", "rules"]
    assert (first["expected"], first["lower"], first["upper"]) == (12.0, 8.0, 16.0)
    assert first["status"] == "new" and first["feedback"] is None
    assert body["next_cursor"] is None


def test_anomalies_filters(client: TestClient, seeded: dict[str, int]) -> None:
    def count(**params: object) -> int:
        response = client.get("/anomalies", params={"location": "Tokyo", **params})
        assert response.status_code == 200, response.text
        return int(response.json()["count"])

    assert count(severity="high") == 1
    assert count(severity=["high", "low"]) == 2
    assert count(metric="wind_speed_10m") == 0
    assert count(method="rules") == 3
    assert count(method="rule") == 3  # SEED.md's name for it
    assert count(method="iforest") == 0
    assert count(since=(NOW - timedelta(hours=6)).isoformat()) == 2
    assert count(until=(NOW - timedelta(hours=6)).isoformat()) == 1
    assert count(limit=1) == 1


def test_anomalies_cursor_pages_through_everything_once(
    client: TestClient, seeded: dict[str, int]
) -> None:
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, object] = {"location": "Tokyo", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/anomalies", params=params).json()
        seen += [a["id"] for a in body["anomalies"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 2 and len(seen) == len(set(seen)) == 3


def test_bad_cursor_is_422_naming_it(client: TestClient, seeded: dict[str, int]) -> None:
    response = client.get("/anomalies", params={"location": "Tokyo", "cursor": "nope!"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.cursor"


def test_limit_is_capped_not_rejected(client: TestClient, seeded: dict[str, int]) -> None:
    assert client.get("/anomalies", params={"location": "Tokyo", "limit": 10**9}).status_code \
        == 200


def test_suggestions_shape_with_backtest(client: TestClient, seeded: dict[str, int]) -> None:
    body = client.get("/alarm-suggestions", params={"location": "Tokyo"}).json()
    SuggestionList.model_validate(body)
    assert body["count"] == 2
    temp = next(s for s in body["suggestions"] if s["metric_type"] == "temperature_2m")
    assert temp["backtest"]["caught"] == 3 and temp["backtest"]["false_fires"] == 1
    assert temp["status"] == "open" and temp["decision"] is None
    only_open = client.get("/alarm-suggestions",
                           params={"location": "Tokyo", "status": "accepted"}).json()
    assert only_open["count"] == 0


def test_unknown_location_is_404_naming_it(client: TestClient, seeded: dict[str, int]) -> None:
    for path in ("/metrics", "/anomalies", "/alarm-suggestions"):
        response = client.get(path, params={"location": "Atlantis"})
        assert response.status_code == 404
        assert "'Atlantis'" in response.json()["detail"]


def test_bad_parameters_are_422_naming_the_field(
    client: TestClient, seeded: dict[str, int]
) -> None:
    cases = {
        "/metrics?location=Tokyo&hours=abc": "query.hours",
        "/metrics?location=Tokyo&hours=-1": "query.hours",
        "/metrics?location=Tokyo&type=snow_depth": "query.type",
        "/metrics": "query.location",
        "/anomalies?location=Tokyo&limit=0": "query.limit",
        "/anomalies?location=Tokyo&severity=huge": "query.severity.0",
        "/anomalies?location=Tokyo&hours=3": "query.hours",
    }
    for path, field in cases.items():
        response = client.get(path)
        assert response.status_code == 422, path
        assert response.json()["errors"][0]["field"] == field, path


def test_odd_names_are_just_names(client: TestClient, seeded: dict[str, int]) -> None:
    response = client.get("/anomalies", params={"location": ODD_NAME})
    assert response.status_code == 200 and response.json()["location"] == ODD_NAME
    assert client.get(f"/locations/{quote(ODD_NAME)}").json()["name"] == ODD_NAME
    assert client.get("/locations").json()["count"] == 3


def test_overview_counts_by_severity_in_one_call(
    client: TestClient, seeded: dict[str, int]
) -> None:
    body = client.get("/overview", params={"hours": 24}).json()
    Overview.model_validate(body)
    by_name = {row["name"]: row for row in body["locations"]}
    assert by_name["Tokyo"]["anomalies"] == {"low": 0, "medium": 1, "high": 1, "total": 2}
    assert by_name["Tokyo"]["worst"] == "high"
    assert by_name[ODD_NAME]["anomalies"]["total"] == 0 and by_name[ODD_NAME]["worst"] is None


def test_location_create_update_delete(client: TestClient, seeded: dict[str, int]) -> None:
    admin = bearer(ADMIN)
    created = client.post("/locations", headers=admin,
                          json={"name": "Reykjavík", "latitude": 64.1, "longitude": -21.9})
    assert created.status_code == 201 and created.json()["name"] == "Reykjavík"
    dup = client.post("/locations", headers=admin,
                      json={"name": "Reykjavík", "latitude": 1, "longitude": 1})
    assert dup.status_code == 409
    bad = client.post("/locations", headers=admin,
                      json={"name": "X", "latitude": 91, "longitude": 0})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.latitude"
    moved = client.put("/locations/Reykjav%C3%ADk", headers=admin,
                       json={"name": "Reykjavik", "latitude": 64.15, "longitude": -21.94})
    assert moved.status_code == 200 and moved.json()["latitude"] == 64.15
    clash = client.put("/locations/Reykjavik", headers=admin,
                       json={"name": "Tokyo", "latitude": 1, "longitude": 1})
    assert clash.status_code == 409
    gone = client.delete("/locations/Tokyo", headers=admin, params={"data": "delete"})
    assert gone.status_code == 200
    assert gone.json()["deleted_rows"] == {"metrics": 96, "anomalies": 3,
                                           "alarm_suggestions": 2, "locations": 1}
    kept = client.delete("/locations/Delhi", headers=admin)
    assert kept.json()["data"] == "kept" and kept.json()["deleted_rows"] == {"locations": 1}
    assert client.get("/anomalies", params={"location": "Delhi"}).status_code == 404


def test_feedback_marks_and_clears(client: TestClient, seeded: dict[str, int]) -> None:
    anomaly = client.get("/anomalies", params={"location": "Tokyo"}).json()["anomalies"][0]
    marked = client.post(f"/anomalies/{anomaly['id']}/feedback", headers=bearer(EDITOR),
                         json={"verdict": "false_positive", "note": "sensor in the sun"})
    assert marked.status_code == 200
    assert marked.json()["status"] == "false_positive"
    assert marked.json()["feedback"]["by"] == "eddie"
    listed = client.get("/anomalies", params={"location": "Tokyo",
                                              "status": "false_positive"}).json()
    assert [a["id"] for a in listed["anomalies"]] == [anomaly["id"]]
    cleared = client.post(f"/anomalies/{anomaly['id']}/feedback", headers=bearer(EDITOR),
                          json={"verdict": "new"})
    assert cleared.json()["feedback"] is None
    assert client.post("/anomalies/999999/feedback", headers=bearer(EDITOR),
                       json={"verdict": "confirmed"}).status_code == 404


def test_accept_records_who_and_dismiss_needs_reason(
    client: TestClient, seeded: dict[str, int]
) -> None:
    ids = [s["id"] for s in client.get("/alarm-suggestions",
                                       params={"location": "Tokyo"}).json()["suggestions"]]
    accepted = client.post(f"/alarm-suggestions/{ids[0]}/accept", headers=bearer(EDITOR))
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["decision"]["by"] == "eddie"
    assert client.post(f"/alarm-suggestions/{ids[0]}/accept",
                       headers=bearer(EDITOR)).status_code == 409
    no_reason = client.post(f"/alarm-suggestions/{ids[1]}/dismiss", headers=bearer(EDITOR),
                            json={})
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "body.reason"
    dismissed = client.post(f"/alarm-suggestions/{ids[1]}/dismiss", headers=bearer(EDITOR),
                            json={"reason": "too noisy"})
    assert dismissed.json()["status"] == "dismissed"
    assert dismissed.json()["decision"]["reason"] == "too noisy"


def test_prometheus_exposes_request_latency(client: TestClient, seeded: dict[str, int]) -> None:
    client.get("/locations")
    text = client.get("/prometheus").text
    assert 'preempt_api_request_seconds_count{method="GET",route="/locations",status="200"}' \
        in text


def test_dashboard_missing_build_says_how(client: TestClient) -> None:
    root = client.get("/")
    assert root.status_code == 200 and "make build" in root.text
    assert client.get("/api/unknown").status_code == 404


def test_dashboard_spa_fallback(mysql_engine: Engine, tmp_path: object) -> None:
    from pathlib import Path

    dist = Path(str(tmp_path))
    (dist / "assets").mkdir()
    (dist / "index.html").write_text("<div id=root></div>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    with TestClient(make_app(mysql_engine, static_dir=dist)) as web:
        assert web.get("/").text == "<div id=root></div>"
        assert web.get("/locations/Tokyo/chart").status_code in (200, 404)  # API path wins
        assert web.get("/map/somewhere").text == "<div id=root></div>"
        assert web.get("/assets/app.js").text == "console.log(1)"
        assert web.get("/assets/missing.js").status_code == 404
        assert web.get("/../pyproject.toml").status_code == 404
        assert web.get("/api/nothing").status_code == 404


def test_openapi_documents_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/locations", "/health", "/metrics", "/anomalies", "/alarm-suggestions",
                 "/overview", "/events", "/api/locations", "/prometheus",
                 "/alarm-suggestions/{suggestion_id}/accept",
                 "/anomalies/{anomaly_id}/feedback"):
        assert path in paths, path
    assert client.get("/docs").status_code == 200
