"""Access control: bearer tokens with roles, open or closed reads, CORS."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from .test_api_support import (  # noqa: F401 - fixtures
    ADMIN,
    EDITOR,
    VIEWER,
    bearer,
    client_fixture,
    make_app,
    seeded_fixture,
)

NEW_PLACE = {"name": "Nuuk", "latitude": 64.18, "longitude": -51.69}


def test_write_without_token_is_401_saying_how(client: TestClient, seeded: dict[str, int]) -> None:
    response = client.post("/locations", json=NEW_PLACE)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"].startswith("missing bearer token: send 'Authorization: Bearer")


@pytest.mark.parametrize("header", ["Basic YWxpY2U6c2VjcmV0", "Bearer", "admin-secret"])
def test_authorization_without_a_bearer_token_says_so(
    client: TestClient, seeded: dict[str, int], header: str
) -> None:
    response = client.post("/locations", json=NEW_PLACE, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["detail"].startswith("the Authorization header holds no bearer token")


def test_unknown_token_is_401(client: TestClient, seeded: dict[str, int]) -> None:
    response = client.post("/locations", json=NEW_PLACE, headers=bearer("guess"))
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid bearer token"


@pytest.mark.parametrize(("token", "status"), [(VIEWER, 403), (EDITOR, 403), (ADMIN, 201)])
def test_location_management_needs_admin(
    client: TestClient, seeded: dict[str, int], token: str, status: int
) -> None:
    response = client.post("/locations", json=NEW_PLACE, headers=bearer(token))
    assert response.status_code == status
    if status == 403:
        assert "needs admin" in response.json()["detail"]


@pytest.mark.parametrize(("token", "status"), [(VIEWER, 403), (EDITOR, 200), (ADMIN, 200)])
def test_suggestion_decisions_need_editor(
    client: TestClient, seeded: dict[str, int], token: str, status: int
) -> None:
    first = client.get("/alarm-suggestions", params={"location": "Tokyo"}).json()
    suggestion_id = first["suggestions"][0]["id"]
    response = client.post(f"/api/alarm-suggestions/{suggestion_id}/dismiss",
                           json={"reason": "not useful"}, headers=bearer(token))
    assert response.status_code == status


def test_reads_are_open_by_default(client: TestClient, seeded: dict[str, int]) -> None:
    assert client.get("/anomalies", params={"location": "Tokyo"}).status_code == 200


def test_closed_reads_need_a_viewer_token(mysql_engine: Engine, seeded: dict[str, int]) -> None:
    with TestClient(make_app(mysql_engine, reads_open=False)) as closed:
        assert closed.get("/locations").status_code == 401
        assert closed.get("/api/metrics", params={"location": "Tokyo"}).status_code == 401
        assert closed.get("/locations", headers=bearer(VIEWER)).status_code == 200
        assert closed.get("/health").status_code == 200  # probes stay open
        schema = closed.get("/openapi.json").json()
        assert schema["paths"]["/locations"]["get"]["security"] == [{"HTTPBearer": []}]


def test_cors_allows_configured_origin_only(mysql_engine: Engine) -> None:
    with TestClient(make_app(mysql_engine, cors=("http://localhost:5173",))) as web:
        ok = web.options("/locations", headers={"Origin": "http://localhost:5173",
                                                "Access-Control-Request-Method": "GET"})
        assert ok.headers["access-control-allow-origin"] == "http://localhost:5173"
        other = web.get("/locations", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
