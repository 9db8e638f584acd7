import { useState } from "react";
import type { Alarm, Silence } from "../api/types";
import { formatForDuration, SILENCE_CHOICES, silencesFor, sortAlarms, STATE_TEXT } from "../lib/alarms";
import { formatAgo, formatDateTime, formatValue } from "../lib/format";
import { metricLabel } from "../lib/metrics";
import { AlarmHistory } from "./AlarmHistory";

interface Props {
  alarms: Alarm[];
  silences: Silence[];
  now: number;
  timeZone: string;
  busyId: number | null;
  onSilence: (alarm: Alarm, minutes: number) => void;
  onUnsilence: (alarm: Alarm, silences: Silence[]) => void;
  onToggle: (alarm: Alarm, enabled: boolean) => void;
  onExport: (alarm: Alarm) => void;
}

export function AlarmsList({ alarms, silences, now, timeZone, busyId, onSilence, onUnsilence, onToggle, onExport }: Props) {
  const [open, setOpen] = useState<Set<number>>(new Set());
  const [durations, setDurations] = useState<Record<number, number>>({});
  if (alarms.length === 0) {
    return (
      <div className="state state-empty">
        No alarm rules for this location yet: accept a suggestion in the Alarm suggestions tab to create one.
      </div>
    );
  }
  const toggleHistory = (id: number) =>
    setOpen((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  return (
    <ul className="alarms">
      {sortAlarms(alarms).map((a) => {
        const busy = busyId === a.id;
        const own = silencesFor(a, silences, now);
        const mine = own.filter((s) => s.alarmId === a.id);
        const until = own.length > 0 ? Math.max(...own.map((s) => s.endsAt)) : null;
        const since = a.stateChangedAt ?? a.createdAt;
        const historyId = `alarm-history-${a.id}`;
        const durationId = `silence-for-${a.id}`;
        const minutes = durations[a.id] ?? SILENCE_CHOICES[0].minutes;
        return (
          <li
            key={a.id}
            className={`alarm alarm-${a.state}${a.enabled ? "" : " alarm-disabled"}`}
            data-alarm-id={a.id}
            aria-labelledby={`alarm-title-${a.id}`}
          >
            <div className="alarm-head">
              <h3 id={`alarm-title-${a.id}`}>
                {metricLabel(a.metric)} <span className="op">{a.operator}</span> {formatValue(a.threshold, a.metric)}
              </h3>
              <span className={`alarm-state alarm-state-${a.state}`} data-testid="alarm-state">
                {STATE_TEXT[a.state]}
              </span>
              <span className={`sev sev-${a.severity}`}>{a.severity}</span>
              {!a.enabled && <span className="pill pill-idle">disabled</span>}
              {until !== null && (
                <span className="pill pill-silenced" data-testid="alarm-silenced" title={`until ${formatDateTime(until, timeZone)}`}>
                  silenced until {formatDateTime(until, timeZone)}
                </span>
              )}
            </div>
            <dl className="alarm-facts">
              <div>
                <dt>Condition</dt>
                <dd>
                  {metricLabel(a.metric)} {a.operator} {formatValue(a.threshold, a.metric)} {formatForDuration(a.forMinutes)}
                </dd>
              </div>
              <div>
                <dt>State since</dt>
                <dd title={since === null ? "" : formatDateTime(since, timeZone)}>
                  {since === null ? "–" : `${formatAgo(since, now)}`}
                  {a.stateChangedAt === null && <span className="muted small"> (created)</span>}
                </dd>
              </div>
              <div>
                <dt>Last value</dt>
                <dd>
                  {a.lastValue === null ? (
                    <span className="muted" title="The rule has not judged a sample beyond its threshold yet">–</span>
                  ) : (
                    <>
                      {formatValue(a.lastValue, a.metric)}
                      {a.lastSampleAt !== null && <span className="muted small"> at {formatDateTime(a.lastSampleAt, timeZone)}</span>}
                    </>
                  )}
                </dd>
              </div>
              <div>
                <dt>Created by</dt>
                <dd>
                  {a.createdBy}
                  {a.suggestionId !== null && <span className="muted small"> (suggestion #{a.suggestionId})</span>}
                </dd>
              </div>
            </dl>
            <div className="alarm-actions">
              {mine.length > 0 ? (
                <button type="button" className="btn" disabled={busy} onClick={() => onUnsilence(a, mine)}>
                  Unsilence
                </button>
              ) : (
                <span className="silence-group">
                  <label className="sr-only" htmlFor={durationId}>Silence for</label>
                  <select
                    id={durationId}
                    value={minutes}
                    onChange={(e) => setDurations((d) => ({ ...d, [a.id]: Number(e.target.value) }))}
                  >
                    {SILENCE_CHOICES.map((c) => (
                      <option key={c.minutes} value={c.minutes}>{c.label}</option>
                    ))}
                  </select>
                  <button type="button" className="btn" disabled={busy} onClick={() => onSilence(a, minutes)}>
                    {busy ? "Saving…" : "Silence"}
                  </button>
                </span>
              )}
              <button
                type="button"
                className="btn"
                disabled={busy}
                onClick={() => onToggle(a, !a.enabled)}
              >
                {a.enabled ? "Disable" : "Enable"}
              </button>
              <button type="button" className="btn" disabled={busy} onClick={() => onExport(a)}>
                Prometheus rule
              </button>
              <button
                type="button"
                className="btn"
                aria-expanded={open.has(a.id)}
                aria-controls={historyId}
                onClick={() => toggleHistory(a.id)}
              >
                {open.has(a.id) ? "Hide history" : "History"}
              </button>
            </div>
            {open.has(a.id) && (
              <div id={historyId} className="alarm-history-wrap">
                <AlarmHistory
                  alarmId={a.id}
                  metric={a.metric}
                  timeZone={timeZone}
                  version={`${a.state}|${a.stateChangedAt ?? ""}`}
                />
              </div>
            )}
          </li>
        );
      })}
    </ul>
  );
}
