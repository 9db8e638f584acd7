import type { Suggestion } from "../api/types";

/** The backtest in words: "caught 7 of 8 anomalies, no false alarms, ≈ 1.0 fires a week". */
export function backtestText(s: Suggestion): string {
  const relevant = s.caught + s.missed;
  const parts: string[] = [];
  if (relevant > 0) parts.push(`caught ${s.caught} of ${relevant} anomalies`);
  parts.push(s.falseFires === 0 ? "no false alarms" : `${s.falseFires} false ${s.falseFires === 1 ? "alarm" : "alarms"}`);
  parts.push(`≈ ${s.firesPerWeek.toFixed(1)} fires a week`);
  return parts.join(", ");
}
