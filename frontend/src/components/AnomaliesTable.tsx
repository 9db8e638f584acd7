import { useMemo, useState } from "react";
import type { Anomaly, AnomalyStatus, Severity } from "../api/types";
import { formatDateTime, formatValue } from "../lib/format";
import { metricLabel, sortMetrics } from "../lib/metrics";
import {
  filterAnomalies, NO_FILTERS, pageOf, sortAnomalies, type AnomalyFilters, type SortDir, type SortKey,
} from "../lib/table";

interface Props {
  anomalies: Anomaly[];
  timeZone: string;
  now: number;
  metric: string | null;
  onMetricChange: (metric: string | null) => void;
  onOpen: (anomaly: Anomaly) => void;
  onFeedback: (anomaly: Anomaly, status: Exclude<AnomalyStatus, "new">) => void;
  busyId: number | null;
}

const PAGE_SIZE = 15;
const COLUMNS: { key: SortKey; label: string }[] = [
  { key: "time", label: "Time (local)" },
  { key: "metric", label: "Metric" },
  { key: "value", label: "Value" },
  { key: "severity", label: "Severity" },
  { key: "score", label: "Score" },
];
const STATUS_LABEL: Record<AnomalyStatus, string> = {
  new: "new", confirmed: "confirmed", false_positive: "false positive",
};
const WINDOWS: { label: string; hours: number | null }[] = [
  { label: "Any time", hours: null },
  { label: "Last 24 h", hours: 24 },
  { label: "Last 3 d", hours: 72 },
  { label: "Last 7 d", hours: 168 },
];

export function AnomaliesTable({ anomalies, timeZone, now, metric, onMetricChange, onOpen, onFeedback, busyId }: Props) {
  const [filters, setFilters] = useState<Omit<AnomalyFilters, "metric" | "sinceS">>(NO_FILTERS);
  const [windowH, setWindowH] = useState<number | null>(null);
  const [sort, setSort] = useState<{ key: SortKey; dir: SortDir }>({ key: "time", dir: "desc" });
  const [page, setPage] = useState(0);

  const metrics = useMemo(() => sortMetrics(anomalies.map((a) => a.metric)), [anomalies]);
  const methods = useMemo(() => [...new Set(anomalies.flatMap((a) => a.methods))].sort(), [anomalies]);
  const rows = useMemo(() => {
    const sinceS = windowH === null ? null : now - windowH * 3600;
    const f = filterAnomalies(anomalies, { ...filters, metric: metric ?? "", sinceS });
    return sortAnomalies(f, sort.key, sort.dir);
  }, [anomalies, filters, metric, windowH, sort, now]);
  const view = pageOf(rows, page, PAGE_SIZE);

  const setFilter = (patch: Partial<typeof filters>) => {
    setFilters((f) => ({ ...f, ...patch }));
    setPage(0);
  };
  const toggleSort = (key: SortKey) =>
    setSort((s) => ({ key, dir: s.key === key && s.dir === "desc" ? "asc" : "desc" }));

  return (
    <div className="anomalies">
      <div className="filters" role="group" aria-label="Filter anomalies">
        <label>
          Metric
          <select value={metric ?? ""} onChange={(e) => { onMetricChange(e.target.value || null); setPage(0); }}>
            <option value="">All</option>
            {metrics.map((m) => <option key={m} value={m}>{metricLabel(m)}</option>)}
          </select>
        </label>
        <label>
          Severity
          <select value={filters.severity} onChange={(e) => setFilter({ severity: e.target.value as Severity | "" })}>
            <option value="">All</option>
            <option value="high">High</option>
            <option value="medium">Medium</option>
            <option value="low">Low</option>
          </select>
        </label>
        <label>
          Method
          <select value={filters.method} onChange={(e) => setFilter({ method: e.target.value })}>
            <option value="">All</option>
            {methods.map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        </label>
        <label>
          Status
          <select value={filters.status} onChange={(e) => setFilter({ status: e.target.value })}>
            <option value="">All</option>
            <option value="new">New</option>
            <option value="confirmed">Confirmed</option>
            <option value="false_positive">False positive</option>
          </select>
        </label>
        <label>
          Time
          <select
            value={windowH ?? ""}
            onChange={(e) => { setWindowH(e.target.value ? Number(e.target.value) : null); setPage(0); }}
          >
            {WINDOWS.map((w) => <option key={w.label} value={w.hours ?? ""}>{w.label}</option>)}
          </select>
        </label>
      </div>

      {rows.length === 0 ? (
        <div className="state state-empty">
          {anomalies.length === 0 ? "No anomalies detected for this location yet." : "No anomaly matches these filters."}
        </div>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <caption className="sr-only">Anomalies, {rows.length} rows, sorted by {sort.key} {sort.dir}ending</caption>
            <thead>
              <tr>
                {COLUMNS.map((c) => (
                  <th key={c.key} scope="col" className={`col-${c.key}`} aria-sort={sort.key === c.key ? (sort.dir === "asc" ? "ascending" : "descending") : "none"}>
                    <button type="button" className="th-btn" onClick={() => toggleSort(c.key)}>
                      {c.label}
                      <span aria-hidden className="sort-mark">{sort.key === c.key ? (sort.dir === "asc" ? "▲" : "▼") : ""}</span>
                    </button>
                  </th>
                ))}
                <th scope="col" className="col-methods">Methods</th>
                <th scope="col">Status</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {view.items.map((a) => (
                <tr key={a.id} data-anomaly-id={a.id} className={`status-${a.status}`}>
                  <td>
                    <button type="button" className="link" onClick={() => onOpen(a)}>
                      {formatDateTime(a.time, timeZone)}
                    </button>
                  </td>
                  <td>{metricLabel(a.metric)}</td>
                  <td className="num">
                    {formatValue(a.value, a.metric)}
                    {a.expected !== null && <span className="muted small"> exp. {formatValue(a.expected, a.metric)}</span>}
                  </td>
                  <td><span className={`sev sev-${a.severity}`}>{a.severity}</span></td>
                  <td className="num col-score">{a.score.toFixed(2)}</td>
                  <td className="small col-methods">{a.methods.join(", ")}</td>
                  <td><span className={`status status-${a.status}`}>{STATUS_LABEL[a.status]}</span></td>
                  <td className="row-actions">
                    <button
                      type="button"
                      className="btn btn-small"
                      disabled={busyId === a.id || a.status === "confirmed"}
                      onClick={() => onFeedback(a, "confirmed")}
                      aria-label={`Confirm anomaly at ${formatDateTime(a.time, timeZone)}`}
                    >
                      Confirm
                    </button>
                    <button
                      type="button"
                      className="btn btn-small"
                      disabled={busyId === a.id || a.status === "false_positive"}
                      onClick={() => onFeedback(a, "false_positive")}
                      aria-label={`Mark anomaly at ${formatDateTime(a.time, timeZone)} as false positive`}
                    >
                      False positive
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {view.pages > 1 && (
        <nav className="pager" aria-label="Anomaly pages">
          <button type="button" className="btn btn-small" disabled={view.page === 0} onClick={() => setPage(view.page - 1)}>
            ← Previous
          </button>
          <span aria-live="polite">
            Page {view.page + 1} of {view.pages} · {rows.length} anomalies
          </span>
          <button type="button" className="btn btn-small" disabled={view.page >= view.pages - 1} onClick={() => setPage(view.page + 1)}>
            Next →
          </button>
        </nav>
      )}
    </div>
  );
}
