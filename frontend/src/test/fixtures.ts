import type { Alarm, Anomaly, Location, Series, Silence, Suggestion } from "../api/types";

export const T0 = Date.UTC(2026, 11, 1, 0, 0, 0) / 1000;

export function location(name: string, extra: Partial<Location> = {}): Location {
  return { id: name.length, name, latitude: 35.7, longitude: 139.7, countryCode: "JP", timezone: "Asia/Tokyo", ...extra };
}

export function series(metric = "temperature_2m", n = 24): Series {
  const times = Array.from({ length: n }, (_, i) => T0 + i * 3600);
  return {
    metric,
    unit: "°C",
    times,
    values: times.map((_, i) => 10 + i * 0.5),
    expected: times.map((_, i) => 10 + i * 0.5),
    lower: times.map((_, i) => 8 + i * 0.5),
    upper: times.map((_, i) => 12 + i * 0.5),
  };
}

let nextId = 1;
export function anomaly(extra: Partial<Anomaly> = {}): Anomaly {
  return {
    id: nextId++, location: "Tokyo", metric: "temperature_2m", time: T0 + 5 * 3600, value: 30,
    expected: 12, lower: 9, upper: 15, zScore: 5, score: 0.9, severity: "high",
    methods: ["seasonal", "iforest"], explanation: "far above the usual", status: "new", ...extra,
  };
}

export function suggestion(extra: Partial<Suggestion> = {}): Suggestion {
  return {
    id: nextId++, location: "Tokyo", metric: "wind_speed_10m", direction: "above", operator: ">",
    threshold: 62, confidence: 0.8, description: "Wind above 62 km/h in Tokyo", anomalyCount: 5,
    caught: 4, missed: 1, falseFires: 0, firesPerWeek: 0.7, suggestedAt: T0, status: "open", ...extra,
  };
}

export function alarm(extra: Partial<Alarm> = {}): Alarm {
  return {
    id: nextId++, name: "Wind > 62 km/h in Tokyo", location: "Tokyo", metric: "wind_speed_10m", unit: "km/h",
    operator: ">", threshold: 62, hysteresis: 2, forMinutes: 10, severity: "medium", quietHours: null,
    channels: [], enabled: true, suggestionId: 7, createdBy: "e2e-editor", createdAt: T0, state: "ok",
    stateChangedAt: null, lastValue: null, lastSampleAt: null, ...extra,
  };
}

export function silence(extra: Partial<Silence> = {}): Silence {
  return {
    id: nextId++, alarmId: null, location: null, startsAt: T0, endsAt: T0 + 3600, reason: "",
    createdBy: "e2e-editor", active: true, ...extra,
  };
}
