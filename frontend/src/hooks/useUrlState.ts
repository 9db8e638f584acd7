import { useCallback, useEffect, useState } from "react";

/** What the URL holds: shareable deep links to a location, a metric and a time range. */
export type RangeKey = "24h" | "3d" | "7d" | "custom";

export interface UrlState {
  location: string | null;
  metric: string | null;
  range: RangeKey;
  since: number | null; // custom range, seconds since the epoch
  until: number | null;
  tab: "anomalies" | "suggestions" | "alarms" | "status";
}

export const RANGE_HOURS: Record<Exclude<RangeKey, "custom">, number> = { "24h": 24, "3d": 72, "7d": 168 };
const TABS = ["anomalies", "suggestions", "alarms", "status"] as const;

export function parseUrlState(search: string): UrlState {
  const p = new URLSearchParams(search);
  const rangeRaw = p.get("range");
  const range: RangeKey = rangeRaw === "3d" || rangeRaw === "7d" || rangeRaw === "custom" ? rangeRaw : "24h";
  const time = (k: string) => {
    const v = p.get(k);
    if (!v) return null;
    const ms = Date.parse(v);
    return Number.isNaN(ms) ? null : ms / 1000;
  };
  const tab = p.get("tab");
  const since = time("since");
  const until = time("until");
  return {
    location: p.get("location") || null,
    metric: p.get("metric") || null,
    range: range === "custom" && since === null ? "24h" : range,
    since: range === "custom" ? since : null,
    until: range === "custom" ? until : null,
    tab: (TABS as readonly string[]).includes(tab ?? "") ? (tab as UrlState["tab"]) : "anomalies",
  };
}

export function formatUrlState(state: UrlState): string {
  const p = new URLSearchParams();
  if (state.location) p.set("location", state.location);
  if (state.metric) p.set("metric", state.metric);
  if (state.range !== "24h") p.set("range", state.range);
  if (state.range === "custom") {
    if (state.since !== null) p.set("since", new Date(state.since * 1000).toISOString());
    if (state.until !== null) p.set("until", new Date(state.until * 1000).toISOString());
  }
  if (state.tab !== "anomalies") p.set("tab", state.tab);
  const qs = p.toString();
  return qs ? `?${qs}` : "";
}

/** URL-backed state: changes push a history entry, back/forward restore it. */
export function useUrlState(): [UrlState, (patch: Partial<UrlState>) => void] {
  const [state, setState] = useState(() => parseUrlState(window.location.search));

  useEffect(() => {
    const onPop = () => setState(parseUrlState(window.location.search));
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);

  const update = useCallback((patch: Partial<UrlState>) => {
    setState((prev) => {
      const next = { ...prev, ...patch };
      const search = formatUrlState(next);
      if (search !== window.location.search) {
        window.history.pushState(null, "", `${window.location.pathname}${search}`);
      }
      return next;
    });
  }, []);

  return [state, update];
}
