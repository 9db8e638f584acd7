"""Exports: the Prometheus rule file parses and has the right expression; Grafana rules carry
the same condition."""

from __future__ import annotations

import yaml

from preempt.alarms.export import (
    ExportRule,
    expression,
    grafana_rule,
    prometheus_duration,
    prometheus_yaml,
)

RULE = ExportRule(key="rule-12", location="Tokyo", metric_type="temperature_2m", operator=">",
                  threshold=35.5, for_s=600, severity="high", description="Hot in Tokyo",
                  hysteresis=0.5, dashboard_url="http://dash/?location=Tokyo")


def test_prometheus_yaml_parses_and_has_the_right_expression() -> None:
    doc = yaml.safe_load(prometheus_yaml([RULE]))
    [group] = doc["groups"]
    [rule] = group["rules"]
    assert group["name"] == "preempt"
    assert rule["alert"] == "PreemptTemperature2mAbove"
    assert rule["expr"] == 'weather_temperature_2m{location="Tokyo"} > 35.5'
    assert rule["for"] == "10m"
    assert rule["labels"] == {"severity": "high", "location": "Tokyo",
                              "metric_type": "temperature_2m", "preempt": "rule-12"}
    assert rule["annotations"]["summary"] == "Temperature > 35.5 °C in Tokyo"
    assert rule["annotations"]["preempt_hysteresis"] == "0.5"


def test_label_values_are_escaped_and_the_prefix_is_configurable() -> None:
    odd = ExportRule(key="rule-1", location='São "Tomé" \\ x', metric_type="wind_speed_10m",
                     operator="<=", threshold=-3)
    assert expression(odd, metric_prefix="owm_") == (
        'owm_wind_speed_10m{location="São \\"Tomé\\" \\\\ x"} <= -3')
    doc = yaml.safe_load(prometheus_yaml([odd, RULE]))
    assert len(doc["groups"][0]["rules"]) == 2
    assert doc["groups"][0]["rules"][0]["for"] == "0s"


def test_durations() -> None:
    assert [prometheus_duration(s) for s in (0, 90, 300, 7200, 5400)] == [
        "0s", "90s", "5m", "2h", "90m"]


def test_grafana_rule_queries_the_series_and_compares_its_last_value() -> None:
    rule = grafana_rule(RULE)
    assert rule["condition"] == "C"
    refs = {d["refId"]: d["model"] for d in rule["data"]}
    assert refs["A"]["expr"] == 'weather_temperature_2m{location="Tokyo"}'
    assert refs["B"]["type"] == "reduce" and refs["B"]["reducer"] == "last"
    assert refs["C"]["type"] == "math" and refs["C"]["expression"] == "$B > 35.5"
    assert rule["for"] == "10m"
    assert rule["labels"]["severity"] == "high"
    assert rule["uid"] == "preempt-rule-12"
