/** HTTP access to the Preempt API: writes need a bearer token, reads too when the server closes them. */

import {
  toAlarm, toAlarms, toAnomalyPage, toHealth, toHistory, toLocations, toOverview, toSeries, toSilence, toSilences,
  toSuggestions, type Query as OpQuery, type Wire,
} from "./normalize";
import type {
  Alarm, AlarmTransition, Anomaly, Health, Location, LocationOverview, Page, Series, Silence, Suggestion,
} from "./types";

export const API_PREFIX = "/api";
const TOKEN_KEY = "preempt.token";

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

// Fallback when storage is unavailable (private mode): the token then lives for this page only.
let memoryToken: string | null = null;
const tokenListeners = new Set<() => void>();

export function getToken(): string | null {
  try {
    return window.localStorage.getItem(TOKEN_KEY);
  } catch {
    return memoryToken;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) window.localStorage.setItem(TOKEN_KEY, token);
    else window.localStorage.removeItem(TOKEN_KEY);
  } catch {
    memoryToken = token || null;
  }
  for (const listener of tokenListeners) listener();
}

/** Call `listener` when the token changes, here or in another tab; returns the unsubscribe. */
export function subscribeToken(listener: () => void): () => void {
  const onStorage = (e: StorageEvent) => {
    if (e.key === TOKEN_KEY || e.key === null) listener();
  };
  tokenListeners.add(listener);
  window.addEventListener("storage", onStorage);
  return () => {
    tokenListeners.delete(listener);
    window.removeEventListener("storage", onStorage);
  };
}

/** The Authorization header for the stored token, sent on reads too (closed reads need it). */
export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** 401 (no or unknown token) or 403 (role too low): asking for a token may help. */
export function isAuthError(err: unknown): err is ApiError {
  return err instanceof ApiError && (err.status === 401 || err.status === 403);
}

type Query = Record<string, string | number | boolean | null | undefined | string[]>;

export function buildUrl(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (Array.isArray(v)) for (const item of v) params.append(k, item);
    else if (v !== null && v !== undefined && v !== "") params.set(k, String(v));
  }
  const qs = params.toString();
  return `${API_PREFIX}${path}${qs ? `?${qs}` : ""}`;
}

async function errorMessage(res: Response): Promise<string> {
  try {
    const body: unknown = await res.json();
    const o = (body ?? {}) as { detail?: unknown; message?: unknown; error?: unknown };
    const detail = o.detail ?? o.message ?? o.error;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).slice(-1).join("")}: ${d.msg ?? ""}`)
        .join("; ");
    }
  } catch {
    /* not JSON */
  }
  return `${res.status} ${res.statusText || "error"}`;
}

export async function request<T>(
  path: string,
  { query, method = "GET", body, signal }: { query?: Query; method?: string; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...authHeaders() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(buildUrl(path, query), {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export interface TimeRange {
  hours?: number;
  since?: number;
  until?: number;
}

function iso(epochS: number | undefined): string | undefined {
  return epochS === undefined ? undefined : new Date(epochS * 1000).toISOString();
}

export const api = {
  async locations(signal?: AbortSignal): Promise<Location[]> {
    return toLocations(await request<Wire["LocationList"]>("/locations", { signal }));
  },
  async health(signal?: AbortSignal): Promise<Health> {
    // /health answers 503 with a full body when a dependency is down: show it, do not fail.
    const res = await fetch(`${API_PREFIX}/health`, { headers: { Accept: "application/json", ...authHeaders() }, signal });
    if (!res.ok && res.status !== 503) throw new ApiError(res.status, await errorMessage(res));
    return toHealth((await res.json()) as Wire["Health"]);
  },
  async metrics(location: string, range: TimeRange, signal?: AbortSignal): Promise<Series[]> {
    const query: OpQuery<"api_get_metrics"> = range.since !== undefined
      ? { location, bands: true, since: iso(range.since), until: iso(range.until) }
      : { location, bands: true, hours: range.hours ?? 24 };
    return toSeries(await request<Wire["MetricsOut"]>("/metrics", { query, signal }));
  },
  async anomalies(location: string, limit: number, signal?: AbortSignal): Promise<Page<Anomaly>> {
    const query: OpQuery<"api_get_anomalies"> = { location, limit };
    return toAnomalyPage(await request<Wire["AnomalyList"]>("/anomalies", { query, signal }));
  },
  async suggestions(location: string, signal?: AbortSignal): Promise<Suggestion[]> {
    const query: OpQuery<"api_get_suggestions"> = { location, limit: 200 };
    return toSuggestions(await request<Wire["SuggestionList"]>("/alarm-suggestions", { query, signal }));
  },
  async overview(hours: number, signal?: AbortSignal): Promise<LocationOverview[]> {
    const query: OpQuery<"api_get_overview"> = { hours };
    return toOverview(await request<Wire["Overview"]>("/overview", { query, signal }));
  },
  async acceptSuggestion(id: number): Promise<void> {
    await request<Wire["SuggestionOut"]>(`/alarm-suggestions/${id}/accept`, { method: "POST" });
  },
  async dismissSuggestion(id: number, reason: string): Promise<void> {
    const body: Wire["DismissIn"] = { reason };
    await request<Wire["SuggestionOut"]>(`/alarm-suggestions/${id}/dismiss`, { method: "POST", body });
  },
  async anomalyFeedback(id: number, verdict: "confirmed" | "false_positive"): Promise<void> {
    const body: Wire["FeedbackIn"] = { verdict };
    await request<Wire["AnomalyOut"]>(`/anomalies/${id}/feedback`, { method: "POST", body });
  },
  async alarms(location: string, signal?: AbortSignal): Promise<Alarm[]> {
    const query: OpQuery<"api_get_alarms"> = { location, limit: 1000 };
    return toAlarms(await request<Wire["AlarmList"]>("/alarms", { query, signal }));
  },
  async alarmHistory(id: number, signal?: AbortSignal): Promise<AlarmTransition[]> {
    const query: OpQuery<"api_get_alarm_history"> = { limit: 50 };
    return toHistory(await request<Wire["HistoryList"]>(`/alarms/${id}/history`, { query, signal }));
  },
  /** Silences not yet over (the API cannot filter by alarm or location: the caller matches). */
  async silences(signal?: AbortSignal): Promise<Silence[]> {
    const query: OpQuery<"api_get_silences"> = { limit: 1000 };
    return toSilences(await request<Wire["SilenceList"]>("/alarm-silences", { query, signal }));
  },
  async silenceAlarm(alarmId: number, durationMinutes: number): Promise<Silence> {
    const body: Wire["SilenceIn"] = {
      alarm_id: alarmId, duration_minutes: durationMinutes, reason: "Silenced in the dashboard",
    };
    return toSilence(await request<Wire["SilenceOut"]>("/alarm-silences", { method: "POST", body }));
  },
  async deleteSilence(id: number): Promise<void> {
    await request<Wire["SilenceOut"]>(`/alarm-silences/${id}`, { method: "DELETE" });
  },
  /** The API has no partial update: enabling or disabling sends the whole rule back. */
  async setAlarmEnabled(alarm: Alarm, enabled: boolean): Promise<Alarm> {
    const body: Wire["AlarmIn"] = {
      location: alarm.location,
      metric_type: alarm.metric as Wire["AlarmIn"]["metric_type"],
      operator: alarm.operator as Wire["AlarmIn"]["operator"],
      threshold: alarm.threshold,
      for_minutes: alarm.forMinutes,
      hysteresis: alarm.hysteresis,
      severity: alarm.severity,
      quiet_hours: alarm.quietHours,
      channels: alarm.channels,
      name: alarm.name,
      enabled,
    };
    return toAlarm(await request<Wire["AlarmOut"]>(`/alarms/${alarm.id}`, { method: "PUT", body }));
  },
};

export type ExportFormat = "prometheus" | "grafana";

/** Where a rule's export downloads from. */
export function alarmExportUrl(id: number, format: ExportFormat = "prometheus"): string {
  const query: OpQuery<"api_export_alarm"> = { format };
  return buildUrl(`/alarms/${id}/export`, query);
}

/** Save a rule's export as a file. Fetched with the token, not a plain link: with closed reads
 * a link (which sends no token) would download a 401. */
export async function downloadAlarmExport(id: number, format: ExportFormat = "prometheus"): Promise<void> {
  const res = await fetch(alarmExportUrl(id, format), { headers: authHeaders() });
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
  const href = URL.createObjectURL(await res.blob());
  const link = document.createElement("a");
  link.href = href;
  link.download = `preempt-alarm-${id}.${format === "prometheus" ? "rules.yml" : "json"}`;
  document.body.appendChild(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(href), 10_000); // some browsers read it after click
}
