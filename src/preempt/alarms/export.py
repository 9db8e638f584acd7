"""Alarm rules (or suggestions) as a Prometheus alerting-rule group (YAML) and as Grafana alert
rules (provisioning-API JSON), so teams can move them into the monitoring they already run.

The weather value is assumed to be a gauge named `<prefix><metric_type>` with a `location`
label (e.g. `weather_temperature_2m{location="Tokyo"}`); the prefix is a parameter.
Hysteresis has no Prometheus equivalent and is given as an annotation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import yaml

from preempt.domain import METRIC_LABELS, METRIC_UNITS

GROUP_NAME: Final = "preempt"
GRAFANA_DATASOURCE_UID: Final = "prometheus"
_WORDS = re.compile(r"[^0-9A-Za-z]+")
_GRAFANA_OPS: Final = {">": ">", ">=": ">=", "<": "<", "<=": "<="}


@dataclass(frozen=True, slots=True)
class ExportRule:
    """What an exported rule says; `key` names it uniquely ('rule-12', 'suggestion-7')."""

    key: str
    location: str
    metric_type: str
    operator: str
    threshold: float
    for_s: float = 0.0
    severity: str = "medium"
    description: str = ""
    hysteresis: float = 0.0
    dashboard_url: str = ""


def promql_string(value: str) -> str:
    """A PromQL double-quoted string literal of `value`."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def selector(rule: ExportRule, *, metric_prefix: str = "weather_") -> str:
    """`weather_temperature_2m{location="Tokyo"}`."""
    return f"{metric_prefix}{rule.metric_type}{{location={promql_string(rule.location)}}}"


def expression(rule: ExportRule, *, metric_prefix: str = "weather_") -> str:
    """The PromQL condition: `weather_temperature_2m{location="Tokyo"} > 35`."""
    return f"{selector(rule, metric_prefix=metric_prefix)} {rule.operator} {rule.threshold:g}"


def prometheus_duration(seconds: float) -> str:
    """Prometheus duration text: 600 -> '10m', 90 -> '90s', 0 -> '0s'."""
    whole = round(seconds)
    for unit, size in (("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def alert_name(rule: ExportRule) -> str:
    """'PreemptTemperature2mAbove'."""
    direction = "Above" if rule.operator in (">", ">=") else "Below"
    words = "".join(w[:1].upper() + w[1:] for w in _WORDS.split(rule.metric_type) if w)
    return f"Preempt{words}{direction}"


def _summary(rule: ExportRule) -> str:
    unit = METRIC_UNITS.get(rule.metric_type, "")
    label = METRIC_LABELS.get(rule.metric_type, rule.metric_type)
    return f"{label} {rule.operator} {rule.threshold:g} {unit} in {rule.location}".replace(
        "  ", " "
    )


def _annotations(rule: ExportRule) -> dict[str, str]:
    notes = {"summary": _summary(rule), "description": rule.description or _summary(rule)}
    if rule.hysteresis:
        notes["preempt_hysteresis"] = f"{rule.hysteresis:g}"
    if rule.dashboard_url:
        notes["dashboard"] = rule.dashboard_url
    return notes


def prometheus_rule(rule: ExportRule, *, metric_prefix: str = "weather_") -> dict[str, Any]:
    """One alerting rule as a mapping (a `rules:` item of a rule group)."""
    return {
        "alert": alert_name(rule),
        "expr": expression(rule, metric_prefix=metric_prefix),
        "for": prometheus_duration(rule.for_s),
        "labels": {"severity": rule.severity, "location": rule.location,
                   "metric_type": rule.metric_type, "preempt": rule.key},
        "annotations": _annotations(rule),
    }


def prometheus_yaml(
    rules: Sequence[ExportRule], *, metric_prefix: str = "weather_", group: str = GROUP_NAME
) -> str:
    """A Prometheus rule file (`groups: [{name, rules}]`) holding `rules`."""
    doc = {"groups": [{"name": group, "rules": [
        prometheus_rule(r, metric_prefix=metric_prefix) for r in rules
    ]}]}
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1000)


def grafana_rule(
    rule: ExportRule,
    *,
    metric_prefix: str = "weather_",
    datasource_uid: str = GRAFANA_DATASOURCE_UID,
    folder_uid: str = GROUP_NAME,
    group: str = GROUP_NAME,
) -> dict[str, Any]:
    """One Grafana alert rule as its provisioning API takes it (POST
    /api/v1/provisioning/alert-rules): query A, reduce B (last), math condition C."""
    window_s = max(600, int(rule.for_s) * 2)
    op = _GRAFANA_OPS[rule.operator]
    return {
        "uid": f"preempt-{rule.key}"[:40],
        "title": f"{alert_name(rule)} {rule.location}"[:190],
        "ruleGroup": group,
        "folderUID": folder_uid,
        "condition": "C",
        "data": [
            {"refId": "A", "queryType": "", "datasourceUid": datasource_uid,
             "relativeTimeRange": {"from": window_s, "to": 0},
             "model": {"refId": "A", "expr": selector(rule, metric_prefix=metric_prefix),
                       "instant": False, "range": True}},
            {"refId": "B", "queryType": "", "datasourceUid": "__expr__",
             "relativeTimeRange": {"from": 0, "to": 0},
             "model": {"refId": "B", "type": "reduce", "expression": "A", "reducer": "last",
                       "datasource": {"type": "__expr__", "uid": "__expr__"}}},
            {"refId": "C", "queryType": "", "datasourceUid": "__expr__",
             "relativeTimeRange": {"from": 0, "to": 0},
             "model": {"refId": "C", "type": "math",
                       "expression": f"$B {op} {rule.threshold:g}",
                       "datasource": {"type": "__expr__", "uid": "__expr__"}}},
        ],
        "noDataState": "NoData",
        "execErrState": "Error",
        "for": prometheus_duration(rule.for_s),
        "labels": {"severity": rule.severity, "location": rule.location,
                   "metric_type": rule.metric_type, "preempt": rule.key},
        "annotations": _annotations(rule),
        "isPaused": False,
    }


def grafana_rules(rules: Sequence[ExportRule], **options: Any) -> list[dict[str, Any]]:
    """Grafana alert rules for `rules` (one JSON object each)."""
    return [grafana_rule(r, **options) for r in rules]
