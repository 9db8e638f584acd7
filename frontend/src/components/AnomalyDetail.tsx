import type { Anomaly, AnomalyStatus } from "../api/types";
import { formatDateTime, formatValue } from "../lib/format";
import { metricLabel } from "../lib/metrics";
import { Modal } from "./Modal";

interface Props {
  anomaly: Anomaly;
  locationName: string;
  timeZone: string;
  busy: boolean;
  onFeedback: (anomaly: Anomaly, status: Exclude<AnomalyStatus, "new">) => void;
  onClose: () => void;
}

export function AnomalyDetail({ anomaly: a, locationName, timeZone, busy, onFeedback, onClose }: Props) {
  return (
    <Modal title={`${metricLabel(a.metric)} anomaly in ${locationName}`} onClose={onClose}>
      <dl className="detail">
        <dt>When</dt>
        <dd>
          {formatDateTime(a.time, timeZone)} <span className="muted small">({timeZone}) · {new Date(a.time * 1000).toISOString().replace(".000Z", "Z")}</span>
        </dd>
        <dt>Value</dt>
        <dd><b>{formatValue(a.value, a.metric)}</b></dd>
        <dt>Expected</dt>
        <dd>
          {formatValue(a.expected, a.metric)}
          {a.lower !== null && a.upper !== null && <> (band {formatValue(a.lower, a.metric)} … {formatValue(a.upper, a.metric)})</>}
        </dd>
        <dt>Severity</dt>
        <dd><span className={`sev sev-${a.severity}`}>{a.severity}</span> score {a.score.toFixed(2)}{a.zScore !== null && <>, z = {a.zScore.toFixed(1)}</>}</dd>
        <dt>Flagged by</dt>
        <dd>{a.methods.join(", ") || "—"}</dd>
        {a.explanation && (<><dt>Why</dt><dd>{a.explanation}</dd></>)}
        <dt>Status</dt>
        <dd data-testid="anomaly-status">{a.status.replace("_", " ")}</dd>
      </dl>
      <div className="row-actions">
        <button type="button" className="btn" disabled={busy || a.status === "false_positive"} onClick={() => onFeedback(a, "false_positive")}>
          Mark false positive
        </button>
        <button type="button" className="btn btn-primary" disabled={busy || a.status === "confirmed"} onClick={() => onFeedback(a, "confirmed")}>
          Confirm
        </button>
      </div>
    </Modal>
  );
}
