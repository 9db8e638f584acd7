/** Client-side filter, sort and paging of the anomalies of one location. */

import type { Anomaly, Severity } from "../api/types";

export type SortKey = "time" | "metric" | "value" | "score" | "severity";
export type SortDir = "asc" | "desc";

export interface AnomalyFilters {
  metric: string; // "" = all
  severity: Severity | "";
  method: string;
  status: string;
  sinceS: number | null; // only anomalies at or after
}

export const NO_FILTERS: AnomalyFilters = { metric: "", severity: "", method: "", status: "", sinceS: null };

const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2 };

export function filterAnomalies(list: Anomaly[], f: AnomalyFilters): Anomaly[] {
  return list.filter(
    (a) =>
      (f.metric === "" || a.metric === f.metric) &&
      (f.severity === "" || a.severity === f.severity) &&
      (f.method === "" || a.methods.includes(f.method)) &&
      (f.status === "" || a.status === f.status) &&
      (f.sinceS === null || a.time >= f.sinceS),
  );
}

export function sortAnomalies(list: Anomaly[], key: SortKey, dir: SortDir): Anomaly[] {
  const sign = dir === "asc" ? 1 : -1;
  const value = (a: Anomaly): number | string =>
    key === "time" ? a.time : key === "metric" ? a.metric : key === "value" ? a.value
      : key === "score" ? a.score : SEVERITY_RANK[a.severity] * 10 + a.score;
  return [...list].sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    const c = typeof va === "string" ? va.localeCompare(String(vb)) : va - (vb as number);
    return sign * c || b.time - a.time;
  });
}

export function pageOf<T>(list: T[], page: number, size: number): { items: T[]; pages: number; page: number } {
  const pages = Math.max(1, Math.ceil(list.length / size));
  const p = Math.min(Math.max(page, 0), pages - 1);
  return { items: list.slice(p * size, p * size + size), pages, page: p };
}
