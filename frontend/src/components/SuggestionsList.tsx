import { useState } from "react";
import type { Series, Suggestion } from "../api/types";
import { formatPercent, formatValue } from "../lib/format";
import { metricLabel } from "../lib/metrics";
import { backtestText } from "../lib/suggestions";
import { ThresholdPreview } from "./ThresholdPreview";

interface Props {
  suggestions: Suggestion[];
  seriesByMetric: Map<string, Series>;
  busyId: number | null;
  onAccept: (s: Suggestion) => void;
  onDismiss: (s: Suggestion, reason: string) => void;
}

const STATUS_TEXT = { open: "suggested", accepted: "accepted — alarm created", dismissed: "dismissed" } as const;

export function SuggestionsList({ suggestions, seriesByMetric, busyId, onAccept, onDismiss }: Props) {
  const [reasons, setReasons] = useState<Record<number, string>>({});
  if (suggestions.length === 0) {
    return (
      <div className="state state-empty">
        No alarm suggestions yet: they appear after 3 or more anomalies of one metric at this location.
      </div>
    );
  }
  const order = { open: 0, accepted: 1, dismissed: 2 };
  const sorted = [...suggestions].sort((a, b) => order[a.status] - order[b.status] || b.confidence - a.confidence);
  return (
    <ul className="suggestions">
      {sorted.map((s) => {
        const busy = busyId === s.id;
        return (
          <li key={s.id} className={`suggestion status-${s.status}`} data-suggestion-id={s.id}>
            <div className="suggestion-main">
              <h3>
                {metricLabel(s.metric)} <span className="op">{s.operator}</span> {formatValue(s.threshold, s.metric)}
              </h3>
              <p className="suggestion-desc">{s.description}</p>
              <p className="small">
                <span className="conf" title="Confidence from the backtest over stored history">
                  confidence {formatPercent(s.confidence)}
                </span>{" "}
                · based on {s.anomalyCount} anomalies · {backtestText(s)}
              </p>
            </div>
            <ThresholdPreview series={seriesByMetric.get(s.metric)} threshold={s.threshold} operator={s.operator} />
            <div className="suggestion-actions">
              <span className={`status status-${s.status}`} data-testid="suggestion-status" aria-live="polite">
                {STATUS_TEXT[s.status]}
              </span>
              {s.status === "open" && (
                <>
                  <button type="button" className="btn btn-primary" disabled={busy} onClick={() => onAccept(s)}>
                    {busy ? "Saving…" : "Accept"}
                  </button>
                  <label className="sr-only" htmlFor={`reason-${s.id}`}>Reason for dismissing</label>
                  <input
                    id={`reason-${s.id}`}
                    className="reason"
                    placeholder="reason (optional)"
                    value={reasons[s.id] ?? ""}
                    onChange={(e) => setReasons((r) => ({ ...r, [s.id]: e.target.value }))}
                  />
                  <button type="button" className="btn" disabled={busy} onClick={() => onDismiss(s, reasons[s.id] ?? "")}>
                    Dismiss
                  </button>
                </>
              )}
            </div>
          </li>
        );
      })}
    </ul>
  );
}
