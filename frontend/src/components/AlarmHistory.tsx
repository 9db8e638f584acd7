import { api } from "../api/client";
import { useAsync } from "../hooks/useAsync";
import { NOTIFY_TEXT, STATE_TEXT } from "../lib/alarms";
import { formatDateTime, formatValue } from "../lib/format";
import { ErrorState, Loading } from "./States";

interface Props {
  alarmId: number;
  metric: string;
  timeZone: string;
  /** Changes when the alarm's state changes, so an open history refreshes with it. */
  version: string;
}

/** An alarm's state transitions, newest first, loaded when first shown. */
export function AlarmHistory({ alarmId, metric, timeZone, version }: Props) {
  const history = useAsync((s) => api.alarmHistory(alarmId, s), [alarmId, version]);
  if (history.error) return <ErrorState error={history.error} onRetry={history.reload} />;
  if (!history.data) return <Loading label="Loading history…" />;
  if (history.data.length === 0) {
    return <p className="muted small alarm-history-empty">No transitions yet: the rule has stayed ok since it was created.</p>;
  }
  return (
    <div className="table-wrap">
      <table className="table compact alarm-history">
        <caption className="sr-only">State transitions, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Sample time</th>
            <th scope="col">Transition</th>
            <th scope="col" className="num">Value</th>
            <th scope="col">Notification</th>
          </tr>
        </thead>
        <tbody>
          {history.data.map((t) => (
            <tr key={t.id}>
              <td>{formatDateTime(t.at, timeZone)}</td>
              <td>
                <span className={`alarm-state alarm-state-${t.from}`}>{STATE_TEXT[t.from]}</span>
                <span aria-hidden> → </span><span className="sr-only"> to </span>
                <span className={`alarm-state alarm-state-${t.to}`}>{STATE_TEXT[t.to]}</span>
              </td>
              <td className="num">{formatValue(t.value, metric)}</td>
              <td className="small">{NOTIFY_TEXT[t.notify]}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
