/**
 * Wire JSON (types generated from the server's OpenAPI document, `schema.d.ts`) → the
 * dashboard's types. A server change that renames or drops a field fails `tsc` here.
 */

import { parseTime } from "../lib/format";
import { metricUnit } from "../lib/metrics";
import type { components, operations } from "./schema";
import type {
  Alarm, AlarmTransition, Anomaly, AnomalyStatus, Health, Location, LocationOverview, Page, Series,
  ServiceBeat, Severity, Silence, Suggestion, SuggestionStatus,
} from "./types";

type Schemas = components["schemas"];
export type Wire = Schemas;
export type Query<Op extends keyof operations> = NonNullable<operations[Op]["parameters"]["query"]>;

const SEVERITY_SET = new Set<string>(["low", "medium", "high"]);

export function toSeverity(value: string): Severity {
  return SEVERITY_SET.has(value) ? (value as Severity) : "low";
}

function time(value: string | null | undefined): number | null {
  return parseTime(value ?? null);
}

export function toLocation(o: Schemas["LocationOut"]): Location {
  return {
    id: o.id,
    name: o.name,
    latitude: o.latitude,
    longitude: o.longitude,
    countryCode: o.country_code ?? "",
    timezone: o.timezone || "UTC",
  };
}

export function toLocations(body: Schemas["LocationList"]): Location[] {
  return body.locations.map(toLocation);
}

export function toAnomaly(o: Schemas["AnomalyOut"]): Anomaly {
  return {
    id: o.id,
    location: o.location,
    metric: o.metric_type,
    time: time(o.timestamp) ?? 0,
    value: o.value,
    expected: o.expected,
    lower: o.lower,
    upper: o.upper,
    zScore: o.z_score,
    score: o.score,
    severity: toSeverity(o.severity),
    methods: o.methods,
    explanation: o.explanation,
    status: (["confirmed", "false_positive"].includes(o.status) ? o.status : "new") as AnomalyStatus,
  };
}

export function toAnomalyPage(body: Schemas["AnomalyList"]): Page<Anomaly> {
  return { items: body.anomalies.map(toAnomaly), nextCursor: body.next_cursor, total: body.count };
}

export function toSuggestion(o: Schemas["SuggestionOut"]): Suggestion {
  return {
    id: o.id,
    location: o.location,
    metric: o.metric_type,
    direction: o.direction,
    operator: o.operator,
    threshold: o.threshold,
    confidence: o.confidence,
    description: o.description,
    anomalyCount: o.anomaly_count,
    caught: o.backtest.caught,
    missed: o.backtest.missed,
    falseFires: o.backtest.false_fires,
    firesPerWeek: o.backtest.fires_per_week,
    suggestedAt: time(o.suggested_at),
    status: (["accepted", "dismissed"].includes(o.status) ? o.status : "open") as SuggestionStatus,
  };
}

export function toSuggestions(body: Schemas["SuggestionList"]): Suggestion[] {
  return body.suggestions.map(toSuggestion);
}

/** One aligned Series per metric (times in seconds since the epoch), oldest first. */
export function toSeries(body: Schemas["MetricsOut"]): Series[] {
  return Object.entries(body.metrics).map(([metric, s]) => ({
    metric,
    unit: s.unit || metricUnit(metric),
    times: s.data.map((p) => time(p.timestamp) ?? 0),
    values: s.data.map((p) => p.value),
    expected: s.data.map((p) => p.expected ?? null),
    lower: s.data.map((p) => p.lower ?? null),
    upper: s.data.map((p) => p.upper ?? null),
  }));
}

export function toOverview(body: Schemas["Overview"]): LocationOverview[] {
  return body.locations.map((o) => ({
    location: o.name,
    high: o.anomalies.high,
    medium: o.anomalies.medium,
    low: o.anomalies.low,
  }));
}

function beat(s: Schemas["ServiceHealth"]): ServiceBeat {
  return { service: s.service, status: s.status, beatAt: time(s.beat_at), info: s.info };
}

/** Newest beat per service (several instances of one service collapse to the freshest). */
function newestPerService(list: Schemas["ServiceHealth"][]): ServiceBeat[] {
  const out = new Map<string, ServiceBeat>();
  for (const b of list.map(beat)) {
    const prev = out.get(b.service);
    if (!prev || (b.beatAt ?? 0) > (prev.beatAt ?? 0)) out.set(b.service, b);
  }
  return [...out.values()].sort((a, b) => a.service.localeCompare(b.service));
}

/**
 * ML on/off as the last detect cycle reported it (heartbeat info `ml`), else from the ML
 * trainer's beat or detect's method; null when nothing tells (/health has no explicit flag).
 */
function mlState(services: ServiceBeat[]): boolean | null {
  const detect = services.find((s) => s.service === "detect");
  const info = detect?.info ?? {};
  if (info.ml === "on" || info.ml === true) return true;
  if (info.ml === "off" || info.ml === false) return false;
  const trainer = services.find((s) => s.service === "ml-trainer" || s.service === "ml_trainer");
  if (trainer) return trainer.status !== "stopped";
  if (typeof info.ml_enabled === "boolean") return info.ml_enabled;
  if (typeof info.method === "string") return ["hybrid", "iforest"].includes(info.method);
  return null;
}

function lastCollect(services: ServiceBeat[]): number | null {
  const collect = services.find((s) => s.service === "collect");
  if (!collect) return null;
  for (const k of ["last_collect_at", "last_run_at", "last_cycle_at", "finished_at"]) {
    const v = collect.info[k];
    if (typeof v === "string") return parseTime(v);
  }
  return collect.beatAt;
}

export function toHealth(body: Schemas["Health"]): Health {
  const services = newestPerService(body.services);
  const lags = body.streams.map((s) => s.lag).filter((v): v is number => typeof v === "number");
  return {
    status: body.status,
    source: body.source,
    simulated: body.source === "simulated",
    ml: mlState(services),
    dependencies: Object.entries(body.dependencies).map(([name, d]) => ({
      name,
      status: d.status,
      detail: d.detail ?? (typeof d.latency_ms === "number" ? `${d.latency_ms} ms` : ""),
    })),
    services,
    lastCollect: lastCollect(services),
    streamLag: lags.length > 0 ? lags.reduce((a, b) => a + b, 0) : null,
  };
}

export function toAlarm(o: Schemas["AlarmOut"]): Alarm {
  return {
    id: o.id,
    name: o.name,
    location: o.location,
    metric: o.metric_type,
    unit: o.unit || metricUnit(o.metric_type),
    operator: o.operator,
    threshold: o.threshold,
    hysteresis: o.hysteresis,
    forMinutes: o.for_minutes,
    severity: toSeverity(o.severity),
    quietHours: o.quiet_hours,
    channels: o.channels,
    enabled: o.enabled,
    suggestionId: o.suggestion_id,
    createdBy: o.created_by,
    createdAt: time(o.created_at),
    state: o.state,
    stateChangedAt: time(o.state_changed_at),
    lastValue: o.last_value,
    lastSampleAt: time(o.last_sample_at),
  };
}

export function toAlarms(body: Schemas["AlarmList"]): Alarm[] {
  return body.alarms.map(toAlarm);
}

export function toTransition(o: Schemas["TransitionOut"]): AlarmTransition {
  return {
    id: o.id,
    alarmId: o.alarm_id,
    from: o.from_state,
    to: o.to_state,
    at: time(o.at) ?? 0,
    value: o.value,
    threshold: o.threshold,
    notify: o.notify,
  };
}

export function toHistory(body: Schemas["HistoryList"]): AlarmTransition[] {
  return body.history.map(toTransition);
}

export function toSilence(o: Schemas["SilenceOut"]): Silence {
  return {
    id: o.id,
    alarmId: o.alarm_id,
    location: o.location,
    startsAt: time(o.starts_at) ?? 0,
    endsAt: time(o.ends_at) ?? 0,
    reason: o.reason,
    createdBy: o.created_by,
    active: o.active,
  };
}

export function toSilences(body: Schemas["SilenceList"]): Silence[] {
  return body.silences.map(toSilence);
}
