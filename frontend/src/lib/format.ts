/** Formatting of numbers, units and times (UTC on the wire, the location's local time on screen). */

import { metricUnit } from "./metrics";

export function formatValue(value: number | null | undefined, metric: string, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const unit = metricUnit(metric);
  const text = value.toFixed(digits);
  return unit === "%" ? `${text}%` : unit ? `${text} ${unit}` : text;
}

export function formatPercent(ratio: number): string {
  return `${Math.round(ratio * 100)}%`;
}

function safeZone(timeZone: string | undefined): string {
  if (!timeZone) return "UTC";
  try {
    new Intl.DateTimeFormat("en", { timeZone });
    return timeZone;
  } catch {
    return "UTC";
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${timeZone}|${JSON.stringify(options)}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", { ...options, timeZone: safeZone(timeZone) });
    formatters.set(key, f);
  }
  return f;
}

/** "Tue 3 Dec, 14:05" in the given IANA zone; seconds since the epoch in. */
export function formatDateTime(epochS: number, timeZone = "UTC"): string {
  return formatter(timeZone, {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(epochS * 1000));
}

export function formatClock(epochS: number, timeZone = "UTC"): string {
  return formatter(timeZone, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(
    new Date(epochS * 1000),
  );
}

/** Offset of the zone from UTC at that instant, e.g. "UTC+9" or "UTC−3:30". */
export function formatUtcOffset(epochS: number, timeZone = "UTC"): string {
  const parts = formatter(timeZone, { timeZoneName: "shortOffset" }).formatToParts(
    new Date(epochS * 1000),
  );
  const name = parts.find((p) => p.type === "timeZoneName")?.value ?? "GMT";
  return name.replace("GMT", "UTC") === "UTC" ? "UTC" : name.replace("GMT", "UTC");
}

/** "3 min ago", "2 h ago", "in 5 min" relative to now (both seconds since the epoch). */
export function formatAgo(epochS: number | null, nowS = Date.now() / 1000): string {
  if (epochS === null) return "never";
  const d = Math.round(nowS - epochS);
  const abs = Math.abs(d);
  const text =
    abs < 60 ? `${abs} s` : abs < 3600 ? `${Math.round(abs / 60)} min`
      : abs < 86400 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86400)} d`;
  return d >= 0 ? `${text} ago` : `in ${text}`;
}

/** Parse an ISO 8601 timestamp; a string without offset is UTC (the storage convention). */
export function parseTime(value: unknown): number | null {
  if (typeof value === "number") return value > 1e11 ? value / 1000 : value;
  if (typeof value !== "string" || value === "") return null;
  const hasZone = /([zZ]|[+-]\d\d:?\d\d)$/.test(value);
  const ms = Date.parse(hasZone ? value : `${value}Z`);
  return Number.isNaN(ms) ? null : ms / 1000;
}

/** Value for <input type="datetime-local"> in UTC. */
export function toLocalInput(epochS: number): string {
  return new Date(epochS * 1000).toISOString().slice(0, 16);
}

export function fromLocalInput(value: string): number | null {
  return parseTime(value.length === 16 ? `${value}:00Z` : value);
}

/** "Tue 3" in the given zone (chart axes). */
export function formatDay(epochS: number, timeZone = "UTC"): string {
  return formatter(timeZone, { weekday: "short", day: "numeric" }).format(new Date(epochS * 1000));
}

/** Axis labels: the clock, plus the day under the first tick and wherever the day changes. */
export function axisTimeLabels(splits: number[], timeZone = "UTC"): string[] {
  let lastDay = "";
  return splits.map((t) => {
    const day = formatDay(t, timeZone);
    const clock = formatClock(t, timeZone);
    const label = day !== lastDay ? `${clock}\n${day}` : clock;
    lastDay = day;
    return label;
  });
}
