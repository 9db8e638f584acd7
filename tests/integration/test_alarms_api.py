"""The alarm endpoints on a real database: rules CRUD with access control, accept-suggestion
helper, history, silences, deliveries, channels and exports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy.engine import Engine

from preempt.api import create_app
from preempt.api.alarms_routes import AlarmList, AlarmOut, create_rule_from_suggestion, router
from preempt.config import AlarmChannelSettings, AlarmSettings
from preempt.domain import Sample
from preempt.services.alarms import AlarmService
from preempt.storage.metrics import write_samples
from tests.integration.test_api_support import (
    ADMIN,
    EDITOR,
    VIEWER,
    bearer,
    make_settings,
    seed,
)

pytestmark = pytest.mark.integration

ALARMS = AlarmSettings(
    channels=(AlarmChannelSettings(name="hook", kind="webhook", url="http://127.0.0.1:9/x"),),
    dashboard_url="http://dash.example",
)
BODY = {"location": "Tokyo", "metric_type": "wind_speed_10m", "operator": ">",
        "threshold": 60, "for_minutes": 10, "severity": "high"}


def alarm_app(engine: Engine, *, reads_open: bool = True) -> FastAPI:
    url = engine.url.render_as_string(hide_password=False)
    settings = make_settings(url, reads_open=reads_open).model_copy(update={"alarms": ALARMS})
    app = create_app(settings, engine=engine)
    if not any(getattr(r, "path", "") == "/alarms" for r in app.routes):
        # What create_app does once it includes the router: before the dashboard's catch-all.
        for prefix in ("", "/api"):
            app.include_router(router, prefix=prefix)
        routes = app.router.routes
        catch_all = [r for r in routes if "{path:path}" in getattr(r, "path", "")]
        routes[:] = [r for r in routes if r not in catch_all] + catch_all
    return app


@pytest.fixture(name="ids")
def ids_fixture(mysql_engine: Engine) -> dict[str, int]:
    return seed(mysql_engine)


@pytest.fixture(name="api")
def api_fixture(mysql_engine: Engine, ids: dict[str, int]) -> Iterator[TestClient]:
    with TestClient(alarm_app(mysql_engine)) as client:
        yield client


def test_creating_an_alarm_needs_an_editor_token(api: TestClient) -> None:
    assert api.post("/alarms", json=BODY).status_code == 401
    assert api.post("/alarms", json=BODY, headers=bearer(VIEWER)).status_code == 403
    created = api.post("/alarms", json=BODY, headers=bearer(EDITOR))
    assert created.status_code == 201
    alarm = AlarmOut.model_validate(created.json())
    assert (alarm.location, alarm.operator, alarm.threshold) == ("Tokyo", ">", 60.0)
    assert (alarm.for_minutes, alarm.hysteresis, alarm.state) == (10.0, 2.0, "ok")
    assert alarm.created_by == "eddie" and alarm.unit == "km/h"
    assert alarm.name == "Wind > 60 km/h in Tokyo"


def test_list_get_replace_delete(api: TestClient) -> None:
    first = api.post("/alarms", json=BODY, headers=bearer(EDITOR)).json()
    api.post("/api/alarms", json=BODY | {"threshold": 80}, headers=bearer(ADMIN))
    listed = AlarmList.model_validate(api.get("/alarms", params={"limit": 1}).json())
    assert listed.count == 1 and listed.next_cursor == str(first["id"])
    rest = api.get("/alarms", params={"cursor": listed.next_cursor}).json()
    assert [a["threshold"] for a in rest["alarms"]] == [80.0]
    assert api.get("/alarms", params={"state": "firing"}).json()["count"] == 0
    assert api.get("/alarms", params={"location": "Nowhere"}).status_code == 404

    replaced = api.put(f"/alarms/{first['id']}", json=BODY | {"threshold": 70, "enabled": False,
                                                           "channels": ["hook"]},
                       headers=bearer(EDITOR))
    assert replaced.status_code == 200
    assert replaced.json()["threshold"] == 70.0 and replaced.json()["channels"] == ["hook"]
    assert api.get(f"/alarms/{first['id']}").json()["enabled"] is False
    assert api.delete(f"/alarms/{first['id']}", headers=bearer(EDITOR)).json() == {
        "id": first["id"], "deleted": True}
    assert api.get(f"/alarms/{first['id']}").status_code == 404
    assert api.delete(f"/alarms/{first['id']}", headers=bearer(EDITOR)).status_code == 404


@pytest.mark.parametrize(("change", "field"), [
    ({"metric_type": "sunshine"}, "body.metric_type"),
    ({"operator": "=="}, "body.operator"),
    ({"for_minutes": -1}, "body.for_minutes"),
    ({"quiet_hours": "late"}, "body.quiet_hours"),
    ({"threshold": 1e12}, "body.threshold"),
])
def test_bad_rules_are_422_naming_the_field(api: TestClient, change: dict[str, object],
                                            field: str) -> None:
    answer = api.post("/alarms", json=BODY | change, headers=bearer(EDITOR))
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(field)


@pytest.mark.parametrize(("change", "named"), [
    ({"location": "Atlantis"}, "unknown location 'Atlantis'"),
    ({"channels": ["pager"]}, "unknown channel 'pager' (known: hook)"),
])
def test_unknown_names_are_404(api: TestClient, change: dict[str, object], named: str) -> None:
    answer = api.post("/alarms", json=BODY | change, headers=bearer(EDITOR))
    assert (answer.status_code, answer.json()["detail"]) == (404, named)


def test_reads_need_a_viewer_token_when_closed(mysql_engine: Engine, ids: dict[str, int]) -> None:
    with TestClient(alarm_app(mysql_engine, reads_open=False)) as closed:
        assert closed.get("/alarms").status_code == 401
        assert closed.get("/alarms", headers=bearer(VIEWER)).status_code == 200


def test_accepted_suggestion_becomes_an_alarm_that_fires_and_shows_in_history(
    api: TestClient, mysql_engine: Engine, ids: dict[str, int]
) -> None:
    suggestion = api.get("/alarm-suggestions", params={"location": "Tokyo"}).json()
    temperature = next(s for s in suggestion["suggestions"]
                       if s["metric_type"] == "temperature_2m")
    with mysql_engine.begin() as conn:
        rule = create_rule_from_suggestion(conn, temperature["id"], "eddie")
    alarm = api.get(f"/alarms/{rule.id}").json()
    assert alarm["suggestion_id"] == temperature["id"]
    assert (alarm["operator"], alarm["threshold"]) == (">", 30.0)

    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    service = AlarmService(ALARMS, engine=mysql_engine, deliver=False)
    service.run_once()  # the seeded history: judged, too old to fire
    with mysql_engine.begin() as conn:
        write_samples(conn, [Sample(ids["Tokyo"], "temperature_2m", now, 31.0)])
    service.run_once()
    assert api.get(f"/alarms/{rule.id}").json()["state"] == "firing"
    assert api.get("/alarms", params={"state": "firing"}).json()["count"] == 1
    [transition] = api.get(f"/alarms/{rule.id}/history").json()["history"]
    assert (transition["from_state"], transition["to_state"], transition["value"]) == (
        "ok", "firing", 31.0)
    assert transition["notify"] == "queued"
    everywhere = api.get("/alarm-history", params={"location": "Tokyo"}).json()
    assert everywhere["count"] == 1
    [delivery] = api.get("/alarm-deliveries").json()["deliveries"]
    assert (delivery["channel"], delivery["status"], delivery["alarm_id"]) == (
        "hook", "pending", rule.id)
    channels = api.get("/alarm-channels").json()["channels"]
    assert channels == [{"name": "hook", "kind": "webhook", "default": True,
                         "status": "unknown", "checked_at": None, "info": {}}]


def test_silences_crud(api: TestClient) -> None:
    alarm = api.post("/alarms", json=BODY, headers=bearer(EDITOR)).json()
    assert api.post("/alarm-silences", json={"alarm_id": alarm["id"], "duration_minutes": 5},
                    headers=bearer(VIEWER)).status_code == 403
    made = api.post("/alarm-silences", json={"alarm_id": alarm["id"], "duration_minutes": 60,
                                             "reason": "maintenance"}, headers=bearer(EDITOR))
    assert made.status_code == 201 and made.json()["active"] is True
    location = api.post("/alarm-silences", json={
        "location": "Tokyo", "starts_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        "ends_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()},
        headers=bearer(EDITOR)).json()
    assert location["active"] is False and location["location"] == "Tokyo"
    neither = api.post("/alarm-silences", json={"duration_minutes": 5}, headers=bearer(EDITOR))
    assert neither.status_code == 422
    assert api.get("/alarm-silences").json()["count"] == 2
    assert api.delete(f"/alarm-silences/{made.json()['id']}",
                      headers=bearer(EDITOR)).status_code == 200
    assert api.get("/alarm-silences").json()["count"] == 1


def test_exports_parse_and_carry_the_rule(api: TestClient) -> None:
    alarm = api.post("/alarms", json=BODY, headers=bearer(EDITOR)).json()
    one = api.get(f"/alarms/{alarm['id']}/export")
    assert one.headers["content-type"].startswith("application/yaml")
    [rule] = yaml.safe_load(one.text)["groups"][0]["rules"]
    assert rule["expr"] == 'weather_wind_speed_10m{location="Tokyo"} > 60'
    assert rule["for"] == "10m" and rule["labels"]["severity"] == "high"
    grafana = api.get(f"/alarms/{alarm['id']}/export", params={"format": "grafana"}).json()
    assert grafana["condition"] == "C" and grafana["for"] == "10m"
    everything = yaml.safe_load(api.get("/alarms/export").text)
    assert len(everything["groups"][0]["rules"]) == 1
    assert len(api.get("/alarms/export", params={"format": "grafana"}).json()["rules"]) == 1
    suggestions = api.get("/alarm-suggestions", params={"location": "Tokyo"}).json()
    sid = suggestions["suggestions"][0]["id"]
    exported = yaml.safe_load(api.get(f"/alarm-suggestions/{sid}/export").text)
    assert exported["groups"][0]["rules"][0]["labels"]["preempt"] == f"suggestion-{sid}"
    assert api.get("/alarm-suggestions/999999/export").status_code == 404
    assert api.get(f"/alarms/{alarm['id']}/export", params={"format": "x"}).status_code == 422


MINE = (r"^/(alarms|alarm-history|alarm-silences|alarm-deliveries|alarm-channels"
        r"|alarm-suggestions/\{suggestion_id\}/export)")


def _fuzz(operation: schemathesis.APIOperation, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=15, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        if mode is GenerationMode.POSITIVE:  # valid requests get past auth
            case.call_and_validate(headers=bearer(ADMIN))
        else:
            case.call_and_validate()

    run()


def test_no_input_to_the_alarm_endpoints_makes_a_server_error(
    mysql_engine: Engine, ids: dict[str, int]
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", alarm_app(mysql_engine))
    operations = [r.ok() for r in schema.include(path_regex=MINE).get_all_operations()]
    assert len(operations) == 15
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # no parameters: nothing to make invalid
            except Exception as exc:  # collect every operation's failure
                failures.append(f"{operation.method.upper()} {operation.path} [{mode.value}]: "
                                f"{str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
