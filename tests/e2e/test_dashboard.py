"""The dashboard in a real browser against a real `preempt server` on emulator data."""

from __future__ import annotations

import json
import re
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    ARTIFACTS,
    AXE,
    EDITOR_TOKEN,
    PREEMPT,
    Stack,
    api_get,
    axe_serious,
    insert_anomaly,
    run,
    shot,
)

pytestmark = pytest.mark.e2e


def select_location(page: Any, name: str) -> None:
    """Type part of the name into the picker and choose it with the keyboard."""
    box = page.get_by_role("combobox", name=re.compile("Location"))
    box.click()
    box.fill(name[: max(3, len(name) - 2)])
    option = page.get_by_role("option", name=re.compile(re.escape(name)))
    option.first.wait_for()
    for _ in range(50):  # arrow down to it: the list is keyboard-driven
        if page.locator('[role="option"][aria-selected="true"]').inner_text().startswith(name):
            break
        box.press("ArrowDown")
    box.press("Enter")


def answer_token_prompt(page: Any) -> None:
    dialog = page.get_by_role("dialog", name="Access token needed")
    dialog.wait_for()
    dialog.get_by_label("API token").fill(EDITOR_TOKEN)
    dialog.get_by_role("button", name="Save and retry").click()
    dialog.wait_for(state="detached")


def test_first_paint_status_and_simulated_badge(page: Any, server: str) -> None:
    page.goto("/")
    page.get_by_text("SIMULATED DATA").wait_for()
    page.get_by_text("Pick a location").wait_for()
    page.locator("circle.map-dot").first.wait_for()
    map_ms = page.evaluate("() => Math.round(performance.now())")
    paint = page.evaluate(
        "() => Object.fromEntries(performance.getEntriesByType('paint')"
        ".map(e => [e.name, Math.round(e.startTime)]))"
    )
    nav = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {domContentLoaded: Math.round(n.domContentLoadedEventEnd),"
        " load: Math.round(n.loadEventEnd)}; }"
    )
    figures = {**paint, **nav, "map_visible_by": map_ms}
    (ARTIFACTS / "e2e-paint.json").write_text(json.dumps(figures, indent=1))
    assert paint.get("first-contentful-paint", 10_000) < 1000
    assert page.locator(".live-open").count() == 1 or page.get_by_text("connecting").count() == 1
    shot(page, "01-home")


def test_search_select_location_shows_charts_with_anomaly_markers(
    page: Any, busy_location: str
) -> None:
    page.goto("/")
    select_location(page, busy_location)
    page.get_by_role("heading", name=busy_location, level=2).wait_for()
    assert f"location={urllib.parse.quote_plus(busy_location)}" in page.url
    page.locator("figure.chart canvas").first.wait_for()
    assert page.locator("figure.chart").count() == 5
    page.get_by_role("button", name="7 d").click()
    page.wait_for_function("() => document.querySelector('.seg-btn.on')?.textContent === '7 d'")
    page.wait_for_timeout(700)
    counts = [int(t.split()[0]) for t in page.get_by_test_id("anomaly-count").all_inner_texts()]
    assert sum(counts) > 0, counts
    assert "range=7d" in page.url
    assert re.search(r"\d\d:\d\d", page.get_by_test_id("local-time").inner_text())
    shot(page, "02-location-charts")


def test_chart_marker_hover_shows_details(page: Any, busy_location: str) -> None:
    page.goto(f"/?location={urllib.parse.quote_plus(busy_location)}&range=7d")
    charts = page.locator("figure.chart")
    charts.first.locator("canvas").wait_for()
    chart = next(
        c
        for c in charts.all()
        if int(c.get_by_test_id("anomaly-count").inner_text().split()[0]) > 0
    )
    over = chart.locator(".u-over")
    box = over.bounding_box()
    tip = chart.get_by_role("tooltip")
    for step in range(0, int(box["width"]), 3):  # sweep the cursor until a marker is near
        over.hover(position={"x": step, "y": box["height"] / 2})
        if tip.count() > 0:
            break
    assert tip.count() == 1
    assert "score" in tip.inner_text() and "expected" in tip.inner_text()
    shot(page, "03-chart-tooltip", full_page=False)
    over.click(position={"x": step, "y": box["height"] / 2})
    page.get_by_role("dialog").wait_for()


def test_open_anomaly_and_mark_false_positive(page: Any, server: str, busy_location: str) -> None:
    page.goto(f"/?location={urllib.parse.quote_plus(busy_location)}")
    table = page.locator("table.table")
    table.wait_for()
    row = table.locator("tbody tr").first
    anomaly_id = int(row.get_attribute("data-anomaly-id"))
    row.get_by_role("button").first.click()  # the time link opens the detail
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    for label in ("Value", "Expected", "Severity", "Flagged by"):
        assert dialog.get_by_text(label, exact=True).count() == 1
    shot(page, "04-anomaly-detail", full_page=False)
    dialog.get_by_role("button", name="Mark false positive").click()
    answer_token_prompt(page)
    page.get_by_test_id("anomaly-status").filter(has_text="false positive").wait_for()
    stored = api_get(server, f"/api/anomalies/{anomaly_id}")
    assert stored["status"] == "false_positive"
    page.keyboard.press("Escape")
    row.locator(".status-false_positive").wait_for()


def test_anomaly_table_filters_sort_and_pages(page: Any, busy_location: str) -> None:
    page.goto(f"/?location={urllib.parse.quote_plus(busy_location)}")
    table = page.locator("table.table")
    table.wait_for()
    severity = page.get_by_role("combobox", name="Severity")
    severity.select_option("high")
    severities = set(table.locator("tbody .sev").all_inner_texts())
    assert severities <= {"HIGH", "high"}
    severity.select_option("")
    page.get_by_role("button", name=re.compile("^Score")).click()
    scores = [float(s) for s in table.locator("tbody td.num:nth-child(5)").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
    pager = page.get_by_role("navigation", name="Anomaly pages")
    if pager.count():
        pager.get_by_role("button", name=re.compile("Next")).click()
        pager.get_by_text(re.compile("Page 2 of")).wait_for()


def test_accept_suggestion_changes_its_state(page: Any, server: str, busy_location: str) -> None:
    page.goto(f"/?location={urllib.parse.quote_plus(busy_location)}&tab=suggestions")
    item = page.locator("li.suggestion.status-open").first
    item.wait_for()
    suggestion_id = int(item.get_attribute("data-suggestion-id"))
    assert re.search(r"confidence \d+%", item.inner_text())
    assert re.search(r"caught \d+ of \d+ anomalies", item.inner_text())
    item.locator("svg.preview").wait_for()  # drawn once the location's series arrives
    shot(page, "05-suggestions")
    item.get_by_role("button", name="Accept").click()
    answer_token_prompt(page)
    accepted = page.locator(f'li.suggestion[data-suggestion-id="{suggestion_id}"]')
    accepted.get_by_test_id("suggestion-status").filter(has_text="accepted").wait_for()
    name = urllib.parse.quote(busy_location)
    stored = {
        s["id"]: s
        for s in api_get(server, f"/api/alarm-suggestions?location={name}")["suggestions"]
    }
    assert stored[suggestion_id]["status"] == "accepted"
    shot(page, "06-suggestion-accepted")


def test_map_shows_every_location_and_click_selects(page: Any, server: str) -> None:
    page.goto("/")
    dots = page.locator("circle.map-dot")
    dots.first.wait_for()
    assert dots.count() == api_get(server, "/api/locations")["count"]
    red = page.locator('circle.map-dot[data-level="high"]')
    assert red.count() > 0
    name = red.last.get_attribute("data-location")
    red.last.click(force=True)
    page.get_by_role("heading", name=name, level=2).wait_for()
    assert page.locator("circle.map-selected").count() == 1
    shot(page, "07-map-selected")


def test_deep_link_restores_location_metric_and_range(page: Any, busy_location: str) -> None:
    page.goto(
        f"/?location={urllib.parse.quote_plus(busy_location)}"
        "&metric=temperature_2m&range=3d&tab=status"
    )
    page.locator("figure.chart canvas").first.wait_for()
    assert page.locator("figure.chart").count() == 1
    assert (
        page.get_by_role("button", name="Temperature", exact=True).get_attribute("aria-pressed")
        == "true"
    )
    assert page.get_by_role("button", name="3 d").get_attribute("aria-pressed") == "true"
    page.get_by_text("Last heartbeat").wait_for()
    shot(page, "08-deep-link-status")


def test_live_update_brings_a_new_anomaly(page: Any, stack: Stack, busy_location: str) -> None:
    page.goto(f"/?location={urllib.parse.quote_plus(busy_location)}")
    page.locator(".live-open").wait_for(timeout=15_000)
    tab = page.get_by_role("tab", name=re.compile("Anomalies"))
    # The busy location has anomalies: wait until their count has loaded, not "(0)".
    page.wait_for_function(
        "() => { const t = [...document.querySelectorAll('[role=tab]')]"
        ".find(e => e.textContent.startsWith('Anomalies'));"
        " return t && /\\(([1-9][0-9]*)\\)/.test(t.textContent); }",
        timeout=15_000,
    )
    before = int(re.search(r"\((\d+)\)", tab.inner_text()).group(1))
    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(minutes=5)
    insert_anomaly(stack, busy_location, at, "wind_speed_10m")
    page.get_by_text(re.compile("New high anomaly")).wait_for(timeout=15_000)
    page.wait_for_function(
        "n => { const t = [...document.querySelectorAll('[role=tab]')]"
        ".find(e => e.textContent.startsWith('Anomalies')); return t && t.textContent !== n; }",
        arg=tab.inner_text(),
        timeout=15_000,
    )
    after = int(re.search(r"\((\d+)\)", tab.inner_text()).group(1))
    assert after == before + 1
    shot(page, "09-live-anomaly", full_page=False)


def test_phone_width_has_no_horizontal_scroll(
    browser: Any, server: str, busy_location: str
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, base_url=server, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(f"/?location={urllib.parse.quote_plus(busy_location)}")
    page.locator("figure.chart canvas").first.wait_for()
    page.wait_for_timeout(500)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 391, width
    shot(page, "10-phone")
    context.close()


def test_unknown_location_shows_an_error_not_a_blank_page(page: Any) -> None:
    page.goto("/?location=Atlantis%20Nowhere")
    page.get_by_text("Unknown location “Atlantis Nowhere”.").wait_for()
    page.get_by_role("alert").first.wait_for()


def location_with_open_suggestion(server: str, preferred: str) -> str:
    """`preferred` if it still has an open suggestion (other tests accept some), else another."""
    overview = api_get(server, "/api/overview?hours=72")["locations"]
    names = [preferred, *sorted(o["name"] for o in overview if o["name"] != preferred)]
    for name in names:
        quoted = urllib.parse.quote(name)
        suggestions = api_get(server, f"/api/alarm-suggestions?location={quoted}")["suggestions"]
        if any(s["status"] == "open" for s in suggestions):
            return name
    pytest.fail("no location has an open suggestion left")


def drive_past_threshold(stack: Stack, rule: dict[str, Any]) -> None:
    """Store readings beyond the rule's threshold, after the newest stored one and long enough
    for its for-duration, then run the real alarm evaluator once (`preempt alarms --once`)."""
    from preempt.domain import Sample
    from preempt.storage.engine import create_engine_for
    from preempt.storage.metrics import newest_sample_times, write_samples

    upward = rule["operator"].startswith(">")
    margin = max(5.0, 3 * rule["hysteresis"])
    value = rule["threshold"] + margin if upward else rule["threshold"] - margin
    engine = create_engine_for(stack.env["PREEMPT_DATABASE_URL"])
    with engine.begin() as conn:
        newest = newest_sample_times(conn, metric_type=rule["metric_type"])[rule["location_id"]]
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        start = max(newest + timedelta(seconds=60), now - timedelta(minutes=30))
        count = int(rule["for_minutes"] // 5) + 2
        write_samples(
            conn,
            [
                Sample(
                    rule["location_id"],
                    rule["metric_type"],
                    start + timedelta(minutes=5 * i),
                    value,
                )
                for i in range(count)
            ],
        )
    engine.dispose()
    run([PREEMPT, "alarms", "--once"], stack.env)


def test_accepted_suggestion_shows_as_alarm_with_state_and_can_be_silenced(
    page: Any, server: str, stack: Stack, busy_location: str
) -> None:
    location = location_with_open_suggestion(server, busy_location)
    quoted = urllib.parse.quote(location)
    page.goto(f"/?location={urllib.parse.quote_plus(location)}&tab=suggestions")
    item = page.locator("li.suggestion.status-open").first
    item.wait_for()
    suggestion_id = int(item.get_attribute("data-suggestion-id"))
    item.get_by_role("button", name="Accept").click()
    answer_token_prompt(page)
    accepted = page.locator(f'li.suggestion[data-suggestion-id="{suggestion_id}"]')
    accepted.get_by_test_id("suggestion-status").filter(has_text="accepted").wait_for()
    rules = api_get(server, f"/api/alarms?location={quoted}")["alarms"]
    rule = next(r for r in rules if r["suggestion_id"] == suggestion_id)
    drive_past_threshold(stack, rule)
    stored = api_get(server, f"/api/alarms/{rule['id']}")
    assert stored["state"] in ("pending", "firing"), stored

    page.get_by_role("tab", name=re.compile("^Alarms")).click()
    assert "tab=alarms" in page.url
    card = page.locator(f'li.alarm[data-alarm-id="{rule["id"]}"]')
    card.wait_for()
    card.get_by_test_id("alarm-state").filter(has_text=stored["state"]).wait_for()
    assert f"alarm-state-{stored['state']}" in card.get_by_test_id("alarm-state").get_attribute(
        "class"
    )
    with page.expect_download() as download:
        card.get_by_role("button", name="Prometheus rule").click()
    assert download.value.suggested_filename == f"preempt-alarm-{rule['id']}.rules.yml"
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert "groups:" in exported, exported
    assert f"{rule['operator']} {rule['threshold']:g}" in exported, exported
    card.get_by_label("Silence for").select_option(label="8 h")
    card.get_by_role("button", name="Silence", exact=True).click()  # the token is kept
    card.get_by_test_id("alarm-silenced").wait_for()
    card.get_by_role("button", name="Unsilence").wait_for()
    silences = api_get(server, "/api/alarm-silences")["silences"]
    mine = [s for s in silences if s["alarm_id"] == rule["id"] and s["active"]]
    assert len(mine) == 1
    hours = (
        datetime.fromisoformat(mine[0]["ends_at"]) - datetime.fromisoformat(mine[0]["starts_at"])
    ).total_seconds() / 3600
    assert round(hours) == 8
    card.get_by_role("button", name="History").click()
    card.locator("table.alarm-history tbody tr").first.wait_for()
    newest = card.locator("table.alarm-history tbody tr").first.text_content()
    assert f"to {stored['state']}" in newest, newest
    serious = [v["id"] for v in axe_serious(page, ".tabs-card")]
    assert serious == [], serious
    page.locator(".notice").last.wait_for(state="detached", timeout=10_000)
    page.locator(".tabs-card").evaluate("e => e.scrollIntoView({block: 'start'})")
    shot(page, "11-alarms", full_page=False)


@pytest.mark.parametrize("tab", ["anomalies", "suggestions", "status"])
def test_accessibility_axe_finds_no_serious_violations(
    page: Any, busy_location: str, tab: str
) -> None:
    if not AXE.is_file():
        pytest.fail("axe-core missing: run `npm --prefix frontend ci`")
    page.goto(f"/?location={urllib.parse.quote_plus(busy_location)}&tab={tab}")
    page.locator("figure.chart canvas").first.wait_for()
    page.locator('[role="tabpanel"] .state-loading').wait_for(state="detached")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    serious = [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"][:3]],
        }
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    (ARTIFACTS / f"e2e-axe-{tab}.json").write_text(json.dumps(result["violations"], indent=1))
    assert serious == [], serious
