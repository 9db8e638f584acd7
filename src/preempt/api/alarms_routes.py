"""Alarm endpoints: rules (list, create, replace, delete), state history, silences, deliveries,
channel health, and export as Prometheus / Grafana alert rules. Also the helper the suggestion
accept endpoint calls: `create_rule_from_suggestion`.

Access as the rest of the API: reads open unless `server.auth.reads_open` is false (then a
viewer token), writes need an editor token. Include `router` once per prefix.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.engine import Connection

from preempt.alarms.export import ExportRule, grafana_rule, grafana_rules, prometheus_yaml
from preempt.alarms.model import default_hysteresis, parse_quiet_hours
from preempt.alarms.payloads import dashboard_link
from preempt.api.context import clamp_limit, context, invalid, read_conn, to_utc, write_conn
from preempt.api.render import json_response
from preempt.api.schemas import ErrorBody
from preempt.api.security import ANONYMOUS, Principal, bearer, require_editor, require_viewer
from preempt.config import AlarmSettings
from preempt.domain import KNOWN_METRICS, METRIC_LABELS, METRIC_UNITS
from preempt.errors import NotFound
from preempt.storage import alarms as store
from preempt.storage.heartbeats import list_heartbeats
from preempt.storage.locations import get_location_by_name
from preempt.storage.suggestions import SuggestionRecord, get_suggestion

# A suggestion's persistence (k of n readings) becomes a for-duration of (k - 1) readings.
READING_INTERVAL_S: Final = 300
MAX_FOR_MINUTES: Final = 7 * 24 * 60
DEFAULT_SILENCE_MINUTES: Final = 60.0
_METRIC_ENUM: list[Any] = sorted(KNOWN_METRICS)
QUIET_PATTERN: Final = r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$"
CHANNEL_SERVICE: Final = "alarm-channel"

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The request body cannot be parsed."},
    404: {"model": ErrorBody, "description": "Unknown alarm, silence, suggestion or location."},
    422: {"model": ErrorBody, "description": "Invalid parameter; `errors` names the field."},
    503: {"model": ErrorBody, "description": "The database is unavailable."},
}
_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or unknown bearer token."},
    403: {"model": ErrorBody, "description": "The token's role is too low."},
}
_WRITE: dict[int | str, dict[str, Any]] = {
    **_AUTH, 409: {"model": ErrorBody, "description": "Conflicts with the current state."},
}

router = APIRouter(tags=["alarms"], responses={**_ERRORS, **_AUTH})

AlarmId = Path(ge=1, le=2**31 - 1, description="The alarm rule's id.")
Format = Literal["prometheus", "grafana"]
State = Literal["ok", "pending", "firing", "resolved"]


def _clean(value: str | None) -> str | None:
    """Text as the database can store it: control characters dropped, lone surrogates
    replaced (a name with either matches no location, so a look-up answers 404)."""
    if value is None:
        return None
    return "".join(
        "\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in value if ord(ch) >= 32
    )


_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _clamped(moment: datetime) -> datetime:
    """Aware UTC, clamped to 2000..2200 (what a silence can mean)."""
    return min(max(to_utc(moment), _EARLIEST), _LATEST)


async def read_access(request: Request) -> Principal:
    """Open reads (anonymous) unless server.auth.reads_open is false, then a viewer token.

    Reads the bearer header itself, so open reads declare no security in the OpenAPI schema
    (as the API's other read routes)."""
    if context(request).settings.server.auth.reads_open:
        return ANONYMOUS
    credentials = await bearer(request)
    return require_viewer(request, credentials)


# --- bodies -----------------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class AlarmIn(BaseModel):
    """A custom alarm rule, or the new fields of one to replace."""

    model_config = ConfigDict(extra="forbid")

    location: str = Field(min_length=1, max_length=200, description="City name.")
    metric_type: str = Field(min_length=1, max_length=32, examples=["temperature_2m"],
                             json_schema_extra={"enum": _METRIC_ENUM})
    operator: Literal[">", ">=", "<", "<="]
    threshold: float = Field(ge=-1e9, le=1e9,
                             description="In the metric's unit (°C, %, mm, km/h).")
    for_minutes: float = Field(0, ge=0, le=MAX_FOR_MINUTES,
                               description="Fire only when the condition held this long.")
    hysteresis: float | None = Field(
        None, ge=0, le=1e6,
        description="Resolve only when the value is this far back past the threshold "
                    "(default: about one reading's noise in the metric's unit).")
    severity: Literal["low", "medium", "high"] = "medium"
    quiet_hours: str | None = Field(
        None, max_length=11, examples=["22:00-07:00"], pattern=QUIET_PATTERN,
        description="Local time window in which notifications wait (transitions are recorded).")
    channels: list[str] = Field(default_factory=list, max_length=20,
                                description="Channel names (an unknown one is a 404); "
                                            "empty: the default channels.")
    enabled: bool = True
    name: str | None = Field(None, max_length=200)

    @field_validator("location", "name")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return _clean(value)

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, value: list[str]) -> list[str]:
        return [_clean(name) or "" for name in value]

    @field_validator("metric_type")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in KNOWN_METRICS:
            raise ValueError(f"unknown metric {value!r}; known: {', '.join(sorted(KNOWN_METRICS))}")
        return value

    @field_validator("threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value) or abs(value) > 1e9:
            raise ValueError("must be a finite number")
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is not None:
            parse_quiet_hours(value)
        return value


class AlarmOut(_Out):
    id: int
    name: str
    location: str
    location_id: int
    metric_type: str
    unit: str
    operator: str
    threshold: float
    hysteresis: float
    for_minutes: float
    severity: str
    quiet_hours: str | None
    channels: list[str]
    enabled: bool
    suggestion_id: int | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    state: State
    state_changed_at: datetime | None
    last_value: float | None
    last_sample_at: datetime | None


class AlarmList(_Out):
    alarms: list[AlarmOut]
    count: int
    next_cursor: str | None


class AlarmDeleted(_Out):
    id: int
    deleted: bool


class TransitionOut(_Out):
    id: int
    alarm_id: int
    location: str | None
    location_id: int
    metric_type: str
    from_state: State
    to_state: State
    at: datetime = Field(description="Time of the sample that caused it.")
    value: float
    threshold: float
    notify: Literal["queued", "silenced", "quiet_hours", "no_channels", "none"]
    recorded_at: datetime


class HistoryList(_Out):
    history: list[TransitionOut]
    count: int
    next_cursor: str | None


class SilenceIn(BaseModel):
    """Silence one alarm (`alarm_id`, which wins when both are given) or every alarm of a
    `location` for a period (a maintenance window): until `ends_at` or for `duration_minutes`
    (`ends_at` wins; neither: 60 minutes). Times are clamped to 2000..2200; a window that
    ends before it starts silences nothing."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": ["alarm_id"], "properties": {"alarm_id": {"type": "integer"}}},
        {"required": ["location"], "properties": {"location": {"type": "string"}}},
    ]})

    alarm_id: int | None = Field(None, ge=1, le=2**31 - 1)
    location: str | None = Field(None, min_length=1, max_length=200)
    starts_at: datetime | None = Field(None, description="Default: now.")
    ends_at: datetime | None = Field(None, description="Or give duration_minutes.")
    duration_minutes: float | None = Field(None, gt=0, le=366 * 24 * 60)
    reason: str = Field("", max_length=500)

    @field_validator("location", "reason")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return _clean(value)


class SilenceOut(_Out):
    id: int
    alarm_id: int | None
    location: str | None
    location_id: int | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime
    active: bool


class SilenceList(_Out):
    silences: list[SilenceOut]
    count: int


class DeliveryOut(_Out):
    id: int
    transition_id: int
    alarm_id: int | None
    to_state: str | None
    channel: str
    kind: str
    status: Literal["pending", "sending", "sent", "failed"]
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DeliveryList(_Out):
    deliveries: list[DeliveryOut]
    count: int


class ChannelOut(_Out):
    name: str
    kind: str
    default: bool
    status: Literal["ok", "error", "unknown"]
    checked_at: datetime | None
    info: dict[str, Any]


class ChannelList(_Out):
    channels: list[ChannelOut]
    count: int


# --- records → JSON ---------------------------------------------------------------------------


def alarm_dict(r: store.RuleRecord) -> dict[str, Any]:
    return {
        "id": r.id, "name": r.name, "location": r.location, "location_id": r.location_id,
        "metric_type": r.metric_type, "unit": METRIC_UNITS.get(r.metric_type, ""),
        "operator": r.operator, "threshold": r.threshold, "hysteresis": r.hysteresis,
        "for_minutes": r.for_s / 60, "severity": r.severity, "quiet_hours": r.quiet_hours,
        "channels": list(r.channels), "enabled": r.enabled, "suggestion_id": r.suggestion_id,
        "created_by": r.created_by, "created_at": r.created_at, "updated_at": r.updated_at,
        "state": r.state, "state_changed_at": r.state_changed_at, "last_value": r.last_value,
        "last_sample_at": r.last_sample_at,
    }


def transition_dict(h: store.HistoryRecord) -> dict[str, Any]:
    return {
        "id": h.id, "alarm_id": h.rule_id, "location": h.location, "location_id": h.location_id,
        "metric_type": h.metric_type, "from_state": h.from_state, "to_state": h.to_state,
        "at": h.at, "value": h.value, "threshold": h.threshold, "notify": h.notify,
        "recorded_at": h.recorded_at,
    }


def silence_dict(s: store.SilenceRecord, now: datetime) -> dict[str, Any]:
    return {
        "id": s.id, "alarm_id": s.rule_id, "location": s.location, "location_id": s.location_id,
        "starts_at": s.starts_at, "ends_at": s.ends_at, "reason": s.reason,
        "created_by": s.created_by, "created_at": s.created_at,
        "active": s.starts_at <= now < s.ends_at,
    }


def delivery_dict(d: store.DeliveryRecord) -> dict[str, Any]:
    return {
        "id": d.id, "transition_id": d.history_id, "alarm_id": d.rule_id,
        "to_state": d.to_state, "channel": d.channel, "kind": d.kind, "status": d.status,
        "attempts": d.attempts, "next_attempt_at": d.next_attempt_at,
        "last_error": d.last_error, "sent_at": d.sent_at, "created_at": d.created_at,
        "updated_at": d.updated_at,
    }


def export_rule(r: store.RuleRecord, settings: AlarmSettings) -> ExportRule:
    """A stored rule as the exporters take it."""
    return ExportRule(
        key=f"rule-{r.id}", location=r.location, metric_type=r.metric_type,
        operator=r.operator, threshold=r.threshold, for_s=float(r.for_s), severity=r.severity,
        description=r.name, hysteresis=r.hysteresis,
        dashboard_url=dashboard_link(settings.dashboard_url, location=r.location,
                                     metric_type=r.metric_type, rule_id=r.id),
    )


def _suggestion_for_s(s: SuggestionRecord) -> int:
    return max(0, s.persistence_k - 1) * READING_INTERVAL_S


def _suggestion_name(s: SuggestionRecord) -> str:
    unit = METRIC_UNITS.get(s.metric_type, "")
    label = METRIC_LABELS.get(s.metric_type, s.metric_type)
    return f"{label} {s.operator} {s.threshold:g} {unit} in {s.location}".replace("  ", " ")[:200]


def _export_response(rules: list[ExportRule], fmt: str, settings: AlarmSettings) -> Response:
    prefix = settings.prometheus_metric_prefix
    if fmt == "grafana":
        return json_response({"rules": grafana_rules(rules, metric_prefix=prefix)})
    return Response(prometheus_yaml(rules, metric_prefix=prefix), media_type="application/yaml")


_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "description": "Prometheus: a rule file (YAML). Grafana: `{\"rules\": [...]}` in the "
                   "provisioning API's alert-rule format.",
    "content": {"application/yaml": {}, "application/json": {}},
}}


# --- the accept-suggestion helper --------------------------------------------------------------


def create_rule_from_suggestion(
    conn: Connection, suggestion_id: int, created_by: str, *, for_s: int | None = None
) -> store.RuleRecord:
    """The alarm rule of an accepted suggestion, created in the caller's transaction.

    Idempotent: a suggestion already turned into a rule returns that rule. The rule takes the
    suggestion's operator and threshold, a for-duration from its persistence (k of n readings:
    (k - 1) readings of 5 min), the default hysteresis of the metric and the default channels.
    Raises NotFound for an unknown suggestion.
    """
    existing = store.get_rule_by_suggestion(conn, suggestion_id)
    if existing is not None:
        return existing
    s = get_suggestion(conn, suggestion_id)
    if s is None:
        raise NotFound(f"unknown alarm suggestion {suggestion_id}")
    spec = store.RuleSpec(
        location_id=s.location_id, metric_type=s.metric_type, operator=s.operator,
        threshold=s.threshold, name=_suggestion_name(s),
        hysteresis=default_hysteresis(s.metric_type, s.threshold),
        for_s=_suggestion_for_s(s) if for_s is None else for_s, severity="medium",
    )
    return store.create_rule(conn, spec, created_by=created_by, suggestion_id=s.id)


# --- rules ------------------------------------------------------------------------------------


def _rule_or_404(conn: Connection, alarm_id: int) -> store.RuleRecord:
    found = store.get_rule(conn, alarm_id)
    if found is None:
        raise HTTPException(404, detail=f"unknown alarm {alarm_id}")
    return found


def _location_id(conn: Connection, name: str) -> int:
    loc = get_location_by_name(conn, _clean(name) or "")
    if loc is None:
        raise HTTPException(404, detail=f"unknown location {name!r}")
    return loc.id


def _spec(conn: Connection, body: AlarmIn, settings: AlarmSettings) -> store.RuleSpec:
    known = {c.name for c in settings.channels}
    unknown = [c for c in body.channels if c not in known]
    if unknown:
        listed = ", ".join(sorted(known)) or "none configured"
        raise HTTPException(404, detail=f"unknown channel {unknown[0]!r} (known: {listed})")
    unit = METRIC_UNITS.get(body.metric_type, "")
    label = METRIC_LABELS.get(body.metric_type, body.metric_type)
    name = body.name or f"{label} {body.operator} {body.threshold:g} {unit} in {body.location}"
    return store.RuleSpec(
        location_id=_location_id(conn, body.location),
        metric_type=body.metric_type, operator=body.operator, threshold=body.threshold,
        name=" ".join(name.split())[:200] or "alarm",
        hysteresis=body.hysteresis if body.hysteresis is not None
        else default_hysteresis(body.metric_type, body.threshold),
        for_s=round(body.for_minutes * 60), severity=body.severity,
        quiet_hours=body.quiet_hours, channels=tuple(dict.fromkeys(body.channels)),
        enabled=body.enabled,
    )


@router.get("/alarms", response_model=AlarmList)
def get_alarms(
    request: Request,
    location: str | None = Query(None, min_length=1, max_length=200, description="City name."),
    state: list[State] = Query([], description="Repeat to allow several (default: all)."),
    limit: int = Query(100, ge=1, le=2**31,
                       description="Page size; capped at server.max_limit (default 1000)."),
    cursor: str | None = Query(None, max_length=18, pattern=r"^\d+$",
                               description="next_cursor of a page."),
    conn: Connection = Depends(read_conn),
    _who: Principal = Depends(read_access),
) -> Response:
    """Alarm rules with their current state, by id."""
    page = clamp_limit(request, limit)
    location_id = _location_id(conn, location) if location else None
    found = store.list_rules(conn, location_id=location_id, states=tuple(state),
                             limit=page + 1, after_id=int(cursor) if cursor else 0)
    more = len(found) > page
    found = found[:page]
    return json_response({"alarms": [alarm_dict(r) for r in found], "count": len(found),
                          "next_cursor": str(found[-1].id) if more else None})


@router.get("/alarms/export", responses=_EXPORT_RESPONSES, response_class=Response)
def export_alarms(
    request: Request,
    format: Format = Query("prometheus", description="prometheus (YAML) or grafana (JSON)."),
    location: str | None = Query(None, min_length=1, max_length=200),
    conn: Connection = Depends(read_conn),
    _who: Principal = Depends(read_access),
) -> Response:
    """Every alarm rule (or a location's) as one Prometheus rule group or Grafana rules."""
    settings = context(request).settings.alarms
    location_id = _location_id(conn, location) if location else None
    rules = [export_rule(r, settings) for r in store.list_rules(conn, location_id=location_id)]
    return _export_response(rules, format, settings)


@router.get("/alarms/{alarm_id}", response_model=AlarmOut)
def get_alarm(
    alarm_id: int = AlarmId,
    conn: Connection = Depends(read_conn),
    _who: Principal = Depends(read_access),
) -> Response:
    """One alarm rule with its current state."""
    return json_response(alarm_dict(_rule_or_404(conn, alarm_id)))


@router.post("/alarms", response_model=AlarmOut, status_code=201, responses=_WRITE)
def post_alarm(
    request: Request,
    body: AlarmIn,
    conn: Connection = Depends(write_conn),
    who: Principal = Depends(require_editor),
) -> Response:
    """Create a custom alarm rule (editor)."""
    spec = _spec(conn, body, context(request).settings.alarms)
    return json_response(alarm_dict(store.create_rule(conn, spec, created_by=who.name)), 201)


@router.put("/alarms/{alarm_id}", response_model=AlarmOut, responses=_WRITE)
def put_alarm(
    request: Request,
    body: AlarmIn,
    alarm_id: int = AlarmId,
    conn: Connection = Depends(write_conn),
    _who: Principal = Depends(require_editor),
) -> Response:
    """Replace an alarm rule's fields (editor); a new location or metric restarts it at ok."""
    _rule_or_404(conn, alarm_id)
    spec = _spec(conn, body, context(request).settings.alarms)
    updated = store.update_rule(conn, alarm_id, spec)
    assert updated is not None
    return json_response(alarm_dict(updated))


@router.delete("/alarms/{alarm_id}", response_model=AlarmDeleted, responses=_WRITE)
def delete_alarm(
    alarm_id: int = AlarmId,
    conn: Connection = Depends(write_conn),
    _who: Principal = Depends(require_editor),
) -> Response:
    """Delete an alarm rule (editor); its history is kept."""
    if not store.delete_rule(conn, alarm_id):
        raise HTTPException(404, detail=f"unknown alarm {alarm_id}")
    return json_response({"id": alarm_id, "deleted": True})


@router.get("/alarms/{alarm_id}/export", responses=_EXPORT_RESPONSES, response_class=Response)
def export_alarm(
    request: Request,
    alarm_id: int = AlarmId,
    format: Format = Query("prometheus", description="prometheus (YAML) or grafana (JSON)."),
    conn: Connection = Depends(read_conn),
    _who: Principal = Depends(read_access),
) -> Response:
    """One alarm rule as a Prometheus alerting rule (YAML) or a Grafana alert rule (JSON)."""
    settings = context(request).settings.alarms
    rule = export_rule(_rule_or_404(conn, alarm_id), settings)
    if format == "grafana":
        return json_response(grafana_rule(rule, metric_prefix=settings.prometheus_metric_prefix))
    return _export_response([rule], format, settings)


@router.get("/alarm-suggestions/{suggestion_id}/export", responses=_EXPORT_RESPONSES,
            response_class=Response)
def export_suggestion(
    request: Request,
    suggestion_id: int = Path(ge=1, le=2**31 - 1, description="The suggestion's id."),
    format: Format = Query("prometheus", description="prometheus (YAML) or grafana (JSON)."),
    conn: Connection = Depends(read_conn),
    _who: Principal = Depends(read_access),
) -> Response:
    """A suggestion (accepted or not) as a Prometheus or Grafana alert rule."""
    settings = context(request).settings.alarms
    s = get_suggestion(conn, suggestion_id)
    if s is None:
        raise HTTPException(404, detail=f"unknown alarm suggestion {suggestion_id}")
    rule = ExportRule(
        key=f"suggestion-{s.id}", location=s.location, metric_type=s.metric_type,
        operator=s.operator, threshold=s.threshold, for_s=float(_suggestion_for_s(s)),
        description=s.description, hysteresis=default_hysteresis(s.metric_type, s.threshold),
        dashboard_url=dashboard_link(settings.dashboard_url, location=s.location,
                                     metric_type=s.metric_type, rule_id=0),
    )
    if format == "grafana":
        return json_response(grafana_rule(rule, metric_prefix=settings.prometheus_metric_prefix))
    return _export_response([rule], format, settings)


# --- history ----------------------------------------------------------------------------------


def _history_page(found: list[store.HistoryRecord], page: int) -> Response:
    more = len(found) > page
    found = found[:page]
    return json_response({"history": [transition_dict(h) for h in found], "count": len(found),
                          "next_cursor": str(found[-1].id) if more else None})


@router.get("/alarms/{alarm_id}/history", response_model=HistoryList)
def get_alarm_history(
    request: Request,
    alarm_id: int = AlarmId,
    limit: int = Query(100, ge=1, le=2**31, description="Capped at server.max_limit."),
    cursor: str | None = Query(None, max_length=18, pattern=r"^\d+$"),
    conn: Connection = Depends(read_conn),
    _who: Principal = Depends(read_access),
) -> Response:
    """One alarm's state transitions, newest first (kept after the rule is deleted)."""
    page = clamp_limit(request, limit)
    found = store.list_history(conn, rule_id=alarm_id, limit=page + 1,
                               before_id=int(cursor) if cursor else None)
    if not found and not cursor:
        _rule_or_404(conn, alarm_id)
    return _history_page(found, page)


@router.get("/alarm-history", response_model=HistoryList)
def get_history(
    request: Request,
    location: str | None = Query(None, min_length=1, max_length=200),
    limit: int = Query(100, ge=1, le=2**31, description="Capped at server.max_limit."),
    cursor: str | None = Query(None, max_length=18, pattern=r"^\d+$"),
    conn: Connection = Depends(read_conn),
    _who: Principal = Depends(read_access),
) -> Response:
    """State transitions of every alarm (or a location's), newest first."""
    page = clamp_limit(request, limit)
    location_id = _location_id(conn, location) if location else None
    found = store.list_history(conn, location_id=location_id, limit=page + 1,
                               before_id=int(cursor) if cursor else None)
    return _history_page(found, page)


# --- silences ---------------------------------------------------------------------------------


@router.get("/alarm-silences", response_model=SilenceList)
def get_silences(
    request: Request,
    include_expired: bool = Query(False, description="Also list silences that are over."),
    limit: int = Query(100, ge=1, le=2**31, description="Capped at server.max_limit."),
    conn: Connection = Depends(read_conn),
    _who: Principal = Depends(read_access),
) -> Response:
    """Silences and maintenance windows, newest first."""
    now = datetime.now(UTC)
    found = store.list_silences(conn, include_expired=include_expired,
                                limit=clamp_limit(request, limit))
    return json_response({"silences": [silence_dict(s, now) for s in found],
                          "count": len(found)})


@router.post("/alarm-silences", response_model=SilenceOut, status_code=201, responses=_WRITE)
def post_silence(
    body: SilenceIn,
    conn: Connection = Depends(write_conn),
    who: Principal = Depends(require_editor),
) -> Response:
    """Silence one alarm or a whole location (editor): transitions are still recorded, their
    notifications are not sent."""
    if body.alarm_id is None and body.location is None:
        raise invalid("body.alarm_id", "give alarm_id or location")
    now = datetime.now(UTC)
    starts = _clamped(body.starts_at) if body.starts_at else now
    if body.ends_at is not None:
        ends = _clamped(body.ends_at)
    else:
        minutes = body.duration_minutes or DEFAULT_SILENCE_MINUTES
        ends = min(starts + timedelta(minutes=minutes), _LATEST)
    rule_id = location_id = None
    if body.alarm_id is not None:
        rule_id = _rule_or_404(conn, body.alarm_id).id
    elif body.location is not None:
        location_id = _location_id(conn, body.location)
    silence = store.create_silence(conn, rule_id=rule_id, location_id=location_id,
                                   starts_at=starts, ends_at=ends, reason=body.reason,
                                   created_by=who.name)
    return json_response(silence_dict(silence, now), 201)


@router.delete("/alarm-silences/{silence_id}", response_model=SilenceOut, responses=_WRITE)
def delete_silence(
    silence_id: int = Path(ge=1, le=2**31 - 1),
    conn: Connection = Depends(write_conn),
    _who: Principal = Depends(require_editor),
) -> Response:
    """End a silence now by deleting it (editor)."""
    found = store.get_silence(conn, silence_id)
    if found is None:
        raise HTTPException(404, detail=f"unknown silence {silence_id}")
    store.delete_silence(conn, silence_id)
    return json_response(silence_dict(found, datetime.now(UTC)))


# --- deliveries and channels ------------------------------------------------------------------


@router.get("/alarm-deliveries", response_model=DeliveryList)
def get_deliveries(
    request: Request,
    status: list[Literal["pending", "sending", "sent", "failed"]] = Query([]),
    alarm_id: int | None = Query(None, ge=1, le=2**31 - 1),
    limit: int = Query(100, ge=1, le=2**31, description="Capped at server.max_limit."),
    conn: Connection = Depends(read_conn),
    _who: Principal = Depends(read_access),
) -> Response:
    """Notification deliveries, newest first: sent, pending retry, or failed with the reason."""
    found = store.list_deliveries(conn, statuses=tuple(status), rule_id=alarm_id,
                                  limit=clamp_limit(request, limit))
    return json_response({"deliveries": [delivery_dict(d) for d in found],
                          "count": len(found)})


@router.get("/alarm-channels", response_model=ChannelList)
def get_channels(
    request: Request,
    conn: Connection = Depends(read_conn),
    _who: Principal = Depends(read_access),
) -> Response:
    """Configured notification channels and their health (error after repeated failures)."""
    beats = {b.instance: b for b in list_heartbeats(conn) if b.service == CHANNEL_SERVICE}
    channels = []
    for c in context(request).settings.alarms.channels:
        beat = beats.get(c.name)
        channels.append({
            "name": c.name, "kind": c.kind, "default": c.default,
            "status": "unknown" if beat is None else ("error" if beat.status == "error"
                                                      else "ok"),
            "checked_at": beat.beat_at if beat else None,
            "info": json.loads(json.dumps(beat.info, default=str)) if beat else {},
        })
    return json_response({"channels": channels, "count": len(channels)})

