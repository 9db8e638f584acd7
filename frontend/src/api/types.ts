/**
 * The dashboard's view of the API's data. Responses are parsed into these shapes in
 * `normalize.ts`; the wire types themselves are generated from the server's OpenAPI schema
 * (`schema.d.ts`, `npm run gen-api`).
 */

export type Severity = "low" | "medium" | "high";
export const SEVERITIES: readonly Severity[] = ["high", "medium", "low"];

export interface Location {
  id: number;
  name: string;
  latitude: number;
  longitude: number;
  countryCode: string;
  timezone: string;
}

/** One metric's series, columns aligned: times in seconds since the epoch (UTC). */
export interface Series {
  metric: string;
  unit: string;
  times: number[];
  values: number[];
  expected: (number | null)[];
  lower: (number | null)[];
  upper: (number | null)[];
}

export type AnomalyStatus = "new" | "confirmed" | "false_positive";

export interface Anomaly {
  id: number;
  location: string;
  metric: string;
  time: number; // seconds since the epoch (UTC)
  value: number;
  expected: number | null;
  lower: number | null;
  upper: number | null;
  zScore: number | null;
  score: number;
  severity: Severity;
  methods: string[];
  explanation: string;
  status: AnomalyStatus;
}

export type SuggestionStatus = "open" | "accepted" | "dismissed";

export interface Suggestion {
  id: number;
  location: string;
  metric: string;
  direction: string;
  operator: string;
  threshold: number;
  confidence: number;
  description: string;
  anomalyCount: number;
  caught: number;
  missed: number;
  falseFires: number;
  firesPerWeek: number;
  suggestedAt: number | null;
  status: SuggestionStatus;
}

export interface LocationOverview {
  location: string;
  high: number;
  medium: number;
  low: number;
}

export interface ServiceBeat {
  service: string;
  status: string;
  beatAt: number | null;
  info: Record<string, unknown>;
}

export interface Health {
  status: string;
  source: string;
  simulated: boolean;
  ml: boolean | null;
  dependencies: { name: string; status: string; detail: string }[];
  services: ServiceBeat[];
  lastCollect: number | null;
  streamLag: number | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
  total: number | null;
}

export type AlarmState = "ok" | "pending" | "firing" | "resolved";

/** An alarm rule with its current state (times in seconds since the epoch, UTC). */
export interface Alarm {
  id: number;
  name: string;
  location: string;
  metric: string;
  unit: string;
  operator: string;
  threshold: number;
  hysteresis: number;
  forMinutes: number;
  severity: Severity;
  quietHours: string | null;
  channels: string[];
  enabled: boolean;
  suggestionId: number | null;
  createdBy: string;
  createdAt: number | null;
  state: AlarmState;
  stateChangedAt: number | null;
  lastValue: number | null;
  lastSampleAt: number | null;
}

export type NotifyOutcome = "queued" | "silenced" | "quiet_hours" | "no_channels" | "none";

export interface AlarmTransition {
  id: number;
  alarmId: number;
  from: AlarmState;
  to: AlarmState;
  at: number; // time of the sample that caused it
  value: number;
  threshold: number;
  notify: NotifyOutcome;
}

/** A silence of one alarm (`alarmId`) or of every alarm of a location (`alarmId` null). */
export interface Silence {
  id: number;
  alarmId: number | null;
  location: string | null;
  startsAt: number;
  endsAt: number;
  reason: string;
  createdBy: string;
  active: boolean;
}
