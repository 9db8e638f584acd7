"""Notification bodies for one alarm transition: generic webhook JSON, Prometheus Alertmanager's
webhook-receiver format (version 4), a Slack-compatible incoming webhook, and an email.

Pure: an `AlarmEvent` in, a JSON-able dict (or subject and text) out.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

from preempt.domain import METRIC_LABELS, METRIC_UNITS

PAYLOAD_VERSION: Final = "1"
ALERTMANAGER_VERSION: Final = "4"
# Alertmanager's "zero time": an alert without an end.
_ZERO_TIME: Final = "0001-01-01T00:00:00Z"
_WORDS = re.compile(r"[^0-9A-Za-z]+")


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One transition of one rule with everything a message says about it.

    `at` is the time of the sample that caused it, `started_at` the moment the episode began
    firing (for a resolved event), both naive UTC. `transition_id` is the history row's id: the
    idempotency key a receiver can deduplicate on."""

    transition_id: int
    rule_id: int
    rule_name: str
    location_id: int
    location: str
    metric_type: str
    operator: str
    threshold: float
    severity: str
    from_state: str
    to_state: str
    at: datetime
    value: float
    dashboard_url: str
    started_at: datetime | None = None
    for_s: float = 0.0
    suggestion_id: int | None = None

    @property
    def unit(self) -> str:
        return METRIC_UNITS.get(self.metric_type, "")

    @property
    def label(self) -> str:
        return METRIC_LABELS.get(self.metric_type, self.metric_type)


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with offset (naive input is UTC)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat()


def _num(value: float) -> str:
    return f"{value:g}"


def dashboard_link(base_url: str, *, location: str, metric_type: str, rule_id: int) -> str:
    """The dashboard page of a location's metric with the alarm highlighted."""
    query = urlencode({"location": location, "metric": metric_type, "alarm": rule_id})
    return f"{base_url.rstrip('/')}/?{query}"


def summary(event: AlarmEvent) -> str:
    """'FIRING: Temperature > 35 °C in Tokyo (now 36.2 °C)'."""
    unit = f" {event.unit}" if event.unit else ""
    head = "RESOLVED" if event.to_state == "resolved" else event.to_state.upper()
    return (f"{head}: {event.label} {event.operator} {_num(event.threshold)}{unit} in "
            f"{event.location} (now {_num(event.value)}{unit})")


def alert_name(event: AlarmEvent) -> str:
    """A Prometheus-style alert name: 'PreemptTemperature2mAbove'."""
    direction = "Above" if event.operator in (">", ">=") else "Below"
    words = "".join(w[:1].upper() + w[1:] for w in _WORDS.split(event.metric_type) if w)
    return f"Preempt{words}{direction}"


def webhook_payload(event: AlarmEvent) -> dict[str, Any]:
    """The generic webhook body: rule, location, value, threshold, state and dashboard link."""
    return {
        "version": PAYLOAD_VERSION,
        "event": f"alarm.{event.to_state}",
        "id": event.transition_id,
        "state": event.to_state,
        "previous_state": event.from_state,
        "at": iso(event.at),
        "started_at": iso(event.started_at) if event.started_at else None,
        "summary": summary(event),
        "rule": {
            "id": event.rule_id, "name": event.rule_name, "metric_type": event.metric_type,
            "operator": event.operator, "threshold": event.threshold, "unit": event.unit,
            "severity": event.severity, "for_s": event.for_s,
            "suggestion_id": event.suggestion_id,
        },
        "location": {"id": event.location_id, "name": event.location},
        "value": event.value,
        "threshold": event.threshold,
        "dashboard_url": event.dashboard_url,
    }


def _labels(event: AlarmEvent) -> dict[str, str]:
    return {
        "alertname": alert_name(event), "location": event.location,
        "metric_type": event.metric_type, "severity": event.severity,
        "preempt_rule_id": str(event.rule_id),
    }


def fingerprint(labels: dict[str, str]) -> str:
    """A stable 16-hex-digit id of a label set (what Alertmanager shows as fingerprint)."""
    raw = "\x00".join(f"{k}\x01{labels[k]}" for k in sorted(labels))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def alertmanager_payload(event: AlarmEvent, *, receiver: str = "preempt") -> dict[str, Any]:
    """Prometheus Alertmanager's webhook_config body (version 4) with one alert."""
    labels = _labels(event)
    status = "resolved" if event.to_state == "resolved" else "firing"
    annotations = {
        "summary": summary(event),
        "description": (f"{event.label} at {event.location} was {_num(event.value)} "
                        f"{event.unit} (threshold {event.operator} {_num(event.threshold)})"),
        "dashboard": event.dashboard_url,
    }
    starts = event.started_at if status == "resolved" and event.started_at else event.at
    alert = {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": iso(starts),
        "endsAt": iso(event.at) if status == "resolved" else _ZERO_TIME,
        "generatorURL": event.dashboard_url,
        "fingerprint": fingerprint(labels),
    }
    group = {"alertname": labels["alertname"], "location": event.location}
    group_key = "{}:{" + ", ".join(f'{k}="{v}"' for k, v in sorted(group.items())) + "}"
    return {
        "version": ALERTMANAGER_VERSION,
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": group,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": event.dashboard_url.split("/?", 1)[0],
        "alerts": [alert],
    }


def slack_payload(event: AlarmEvent) -> dict[str, Any]:
    """A Slack-compatible incoming-webhook body: `text` plus one section block with a link."""
    icon = ":white_check_mark:" if event.to_state == "resolved" else ":rotating_light:"
    text = f"{icon} {summary(event)}"
    details = (f"*Severity:* {event.severity}   *At:* {iso(event.at)}   "
               f"<{event.dashboard_url}|Open in Preempt>")
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": details}]},
        ],
    }


def email_message(event: AlarmEvent) -> tuple[str, str]:
    """(subject, plain-text body) of the notification email."""
    subject = f"[Preempt] {summary(event)}"
    lines = [
        summary(event),
        "",
        f"Rule:      #{event.rule_id} {event.rule_name}",
        f"Location:  {event.location}",
        f"Metric:    {event.label} ({event.metric_type})",
        f"Condition: {event.operator} {_num(event.threshold)} {event.unit}".rstrip(),
        f"Value:     {_num(event.value)} {event.unit}".rstrip(),
        f"State:     {event.from_state} -> {event.to_state}",
        f"At:        {iso(event.at)}",
        f"Severity:  {event.severity}",
        "",
        f"Dashboard: {event.dashboard_url}",
    ]
    return subject, "\n".join(lines) + "\n"


def http_payload(kind: str, event: AlarmEvent, *, receiver: str = "preempt") -> dict[str, Any]:
    """The JSON body for an HTTP channel of `kind` (webhook, alertmanager or slack)."""
    if kind == "alertmanager":
        return alertmanager_payload(event, receiver=receiver)
    if kind == "slack":
        return slack_payload(event)
    if kind == "webhook":
        return webhook_payload(event)
    raise ValueError(f"not an HTTP channel kind: {kind!r}")
