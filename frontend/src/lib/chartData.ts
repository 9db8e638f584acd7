/** Series + anomalies → uPlot's aligned columns. */

import type uPlot from "uplot";
import type { Anomaly, Series, Severity } from "../api/types";

export const MARKER_SEVERITIES: Severity[] = ["low", "medium", "high"];

/** Index of the sample nearest to t (times sorted ascending). */
export function nearestIndex(times: number[], t: number): number {
  let lo = 0;
  let hi = times.length - 1;
  if (hi < 0) return -1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((times[mid] ?? 0) < t) lo = mid + 1;
    else hi = mid;
  }
  const prev = lo > 0 ? lo - 1 : lo;
  return Math.abs((times[prev] ?? 0) - t) < Math.abs((times[lo] ?? 0) - t) ? prev : lo;
}

/** uPlot columns: x, value, lower, upper, expected, then one marker column per severity. */
export function buildChartData(series: Series, anomalies: Anomaly[]) {
  const n = series.times.length;
  const markers = MARKER_SEVERITIES.map(() => new Array<number | null>(n).fill(null));
  const atIndex = new Map<number, Anomaly>();
  const step = n > 1 ? ((series.times[n - 1] ?? 0) - (series.times[0] ?? 0)) / (n - 1) : 3600;
  for (const a of anomalies) {
    if (a.metric !== series.metric) continue;
    const i = nearestIndex(series.times, a.time);
    if (i < 0 || Math.abs((series.times[i] ?? 0) - a.time) > Math.max(step, 300)) continue;
    const prev = atIndex.get(i);
    if (prev && prev.score >= a.score) continue;
    atIndex.set(i, a);
  }
  for (const [i, a] of atIndex) {
    const col = markers[MARKER_SEVERITIES.indexOf(a.severity)];
    if (col) col[i] = a.value;
  }
  const data = [series.times, series.values, series.lower, series.upper, series.expected, ...markers] as uPlot.AlignedData;
  return { data, atIndex };
}


const NON_NEGATIVE = new Set(["precipitation", "wind_speed_10m", "wind_gusts_10m", "rain", "snowfall"]);
const PERCENT = new Set(["relative_humidity_2m", "cloud_cover"]);

/**
 * The y range of a chart: the readings (and expected values) with some air, never past the
 * physical limits (no negative rain, no humidity above 100 %). A wider expected band is clipped:
 * it then reads as "all of this is normal".
 */
export function yRange(series: Series): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const list of [series.values, series.expected]) {
    for (const v of list) {
      if (v === null || !Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (!Number.isFinite(lo)) return [0, 1];
  const pad = Math.max((hi - lo) * 0.15, Math.abs(hi) * 0.02, 0.5);
  let min = lo - pad;
  let max = hi + pad;
  if (NON_NEGATIVE.has(series.metric) || PERCENT.has(series.metric)) min = Math.max(0, min);
  if (PERCENT.has(series.metric)) max = Math.min(100, max);
  return [min, max];
}
