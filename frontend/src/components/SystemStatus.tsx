import type { Health } from "../api/types";
import { formatAgo } from "../lib/format";

interface Props {
  health: Health;
  now: number;
}

function tone(status: string): string {
  const s = status.toLowerCase();
  if (["ok", "up", "healthy", "running", "pass"].includes(s)) return "ok";
  if (["degraded", "stale", "warn", "warning", "pending"].includes(s)) return "warn";
  if (["disabled", "off", "unknown", "not configured", "not_configured", "skipped", "stopped"].includes(s)) return "idle";
  return "bad";
}

/** The one-line summary a service reports with its beat, if any. */
function summaryOf(info: Record<string, unknown>): string {
  const text = info.summary ?? info.last_summary;
  return typeof text === "string" ? text : "";
}

export function SystemStatus({ health, now }: Props) {
  return (
    <div className="status-panel">
      <dl className="status-grid">
        <div><dt>Overall</dt><dd><span className={`pill pill-${tone(health.status)}`}>{health.status}</span></dd></div>
        <div><dt>Data source</dt><dd>{health.source || "unknown"} {health.simulated && <span className="badge-sim small">simulated</span>}</dd></div>
        <div><dt>Last collect</dt><dd>{formatAgo(health.lastCollect, now)}</dd></div>
        <div><dt>Stream lag</dt><dd>{health.streamLag === null ? "–" : `${health.streamLag} entries`}</dd></div>
        <div><dt>ML</dt><dd>{health.ml === null ? "unknown" : health.ml ? "on" : "off"}</dd></div>
      </dl>
      {health.dependencies.length > 0 && (
        <>
          <h3>Dependencies</h3>
          <ul className="status-list">
            {health.dependencies.map((d) => (
              <li key={d.name}>
                <span className={`pill pill-${tone(d.status)}`}>{d.status}</span> {d.name}
                {d.detail && <span className="muted small"> — {d.detail}</span>}
              </li>
            ))}
          </ul>
        </>
      )}
      <h3>Services</h3>
      {health.services.length === 0 ? (
        <p className="muted">No service has reported a heartbeat yet.</p>
      ) : (
        <table className="table compact">
          <thead><tr><th scope="col">Service</th><th scope="col">State</th><th scope="col">Last heartbeat</th><th scope="col">Last report</th></tr></thead>
          <tbody>
            {health.services.map((s) => (
              <tr key={s.service}>
                <td>{s.service}</td>
                <td><span className={`pill pill-${tone(s.status)}`}>{s.status}</span></td>
                <td title={s.beatAt ? new Date(s.beatAt * 1000).toISOString() : ""}>{formatAgo(s.beatAt, now)}</td>
                <td className="small muted">{summaryOf(s.info)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
