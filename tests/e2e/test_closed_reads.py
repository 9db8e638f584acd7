"""The dashboard against a server whose reads are closed (`server.auth.reads_open: false`):
it asks for a viewer token, then loads and streams live events with it."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import (
    VIEWER_TOKEN,
    Stack,
    api_get,
    axe_serious,
    insert_anomaly,
    shot,
)

pytestmark = pytest.mark.e2e


def submit_token(dialog: Any, token: str) -> None:
    dialog.get_by_label("API token").fill(token)
    dialog.get_by_role("button", name="Save and retry").click()


def test_reads_are_closed_without_a_token(closed_server: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        api_get(closed_server, "/api/locations")
    assert refused.value.code == 401
    assert api_get(closed_server, "/api/locations", token=VIEWER_TOKEN)["count"] > 0


def test_dashboard_asks_for_a_viewer_token_then_loads_and_goes_live(
    closed_page: Any, closed_server: str, stack: Stack, busy_location: str
) -> None:
    page = closed_page
    page.goto(f"/?location={urllib.parse.quote_plus(busy_location)}")
    dialog = page.get_by_role("dialog", name="Access token needed")
    dialog.wait_for()
    assert "viewer token" in dialog.inner_text()
    assert "missing bearer token" in dialog.inner_text()
    assert page.get_by_role("dialog").count() == 1  # one dialog for every refused read
    page.locator(".live-closed").wait_for()  # the stream was refused too, and waits
    serious = [v["id"] for v in axe_serious(page)]
    assert serious == [], serious
    shot(page, "12-closed-reads-token", full_page=False)

    submit_token(dialog, "not-the-token")
    dialog.get_by_text(re.compile("invalid bearer token")).wait_for()  # asked again, with why

    submit_token(dialog, VIEWER_TOKEN)
    dialog.wait_for(state="detached")
    page.locator("figure.chart canvas").first.wait_for()
    page.locator("circle.map-dot").first.wait_for()
    assert re.search(r"\d\d:\d\d", page.get_by_test_id("local-time").inner_text())
    assert page.get_by_role("alert").filter(has_text="Could not load").count() == 0
    page.locator(".live-open").wait_for(timeout=15_000)

    # A second-aligned time no sample has, so this is a new anomaly, not a change of one.
    at = datetime.now(UTC).replace(minute=0, second=17, microsecond=0) - timedelta(hours=1)
    insert_anomaly(stack, busy_location, at, "temperature_2m")
    page.get_by_text(re.compile("New high anomaly")).wait_for(timeout=15_000)
    assert page.evaluate("() => localStorage.getItem('preempt.token')") == VIEWER_TOKEN
    shot(page, "13-closed-reads-live", full_page=False)
