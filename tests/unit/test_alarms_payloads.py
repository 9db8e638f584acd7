"""Notification bodies: generic webhook, Alertmanager webhook-receiver format, Slack, email."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from preempt.alarms.payloads import (
    AlarmEvent,
    alertmanager_payload,
    email_message,
    slack_payload,
    webhook_payload,
)

FIRING = AlarmEvent(
    transition_id=41, rule_id=7, rule_name="Hot Tokyo", location_id=3, location="Tokyo",
    metric_type="temperature_2m", operator=">", threshold=35.0, severity="high",
    from_state="ok", to_state="firing", at=datetime(2026, 7, 1, 12, 0), value=36.2,
    dashboard_url="http://dash/?location=Tokyo&metric=temperature_2m&alarm=7",
)
RESOLVED = replace(FIRING, transition_id=42, from_state="firing", to_state="resolved",
                   at=datetime(2026, 7, 1, 13, 0), value=33.0,
                   started_at=datetime(2026, 7, 1, 12, 0))


def test_generic_webhook_has_rule_location_value_threshold_state_and_link() -> None:
    body = webhook_payload(FIRING)
    assert body["event"] == "alarm.firing"
    assert body["state"] == "firing" and body["previous_state"] == "ok"
    assert body["rule"]["id"] == 7 and body["rule"]["unit"] == "°C"
    assert body["location"] == {"id": 3, "name": "Tokyo"}
    assert body["value"] == 36.2 and body["threshold"] == 35.0
    assert body["at"] == "2026-07-01T12:00:00+00:00"
    assert body["dashboard_url"].startswith("http://dash/")
    assert body["summary"] == "FIRING: Temperature > 35 °C in Tokyo (now 36.2 °C)"


def test_alertmanager_payload_follows_the_webhook_receiver_format() -> None:
    firing = alertmanager_payload(FIRING, receiver="ops")
    assert firing["version"] == "4" and firing["status"] == "firing"
    assert firing["receiver"] == "ops"
    [alert] = firing["alerts"]
    assert alert["labels"]["alertname"] == "PreemptTemperature2mAbove"
    assert alert["labels"]["location"] == "Tokyo"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert set(firing) == {"version", "groupKey", "truncatedAlerts", "status", "receiver",
                           "groupLabels", "commonLabels", "commonAnnotations", "externalURL",
                           "alerts"}
    resolved = alertmanager_payload(RESOLVED)["alerts"][0]
    assert resolved["status"] == "resolved"
    assert resolved["startsAt"] == "2026-07-01T12:00:00+00:00"
    assert resolved["endsAt"] == "2026-07-01T13:00:00+00:00"
    assert resolved["fingerprint"] == alert["fingerprint"]


def test_slack_payload_has_text_and_blocks() -> None:
    body = slack_payload(RESOLVED)
    assert body["text"].startswith(":white_check_mark: RESOLVED: Temperature")
    assert body["blocks"][0]["type"] == "section"
    assert "|Open in Preempt>" in body["blocks"][1]["elements"][0]["text"]


def test_email_has_subject_and_details() -> None:
    subject, text = email_message(FIRING)
    assert subject == "[Preempt] FIRING: Temperature > 35 °C in Tokyo (now 36.2 °C)"
    assert "Location:  Tokyo" in text and "Dashboard: http://dash/" in text
