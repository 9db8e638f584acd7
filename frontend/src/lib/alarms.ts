import type { Alarm, AlarmState, NotifyOutcome, Silence } from "../api/types";

/** Silence lengths offered by the Silence button, in minutes. */
export const SILENCE_CHOICES = [
  { minutes: 60, label: "1 h" },
  { minutes: 8 * 60, label: "8 h" },
  { minutes: 24 * 60, label: "24 h" },
] as const;

export const STATE_TEXT: Record<AlarmState, string> = {
  ok: "ok",
  pending: "pending",
  firing: "firing",
  resolved: "resolved",
};

/** Firing first, then pending, then the quiet ones; disabled rules last. */
const STATE_ORDER: Record<AlarmState, number> = { firing: 0, pending: 1, resolved: 2, ok: 3 };

export function sortAlarms(alarms: Alarm[]): Alarm[] {
  return [...alarms].sort(
    (a, b) => Number(!a.enabled) - Number(!b.enabled) || STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.id - b.id,
  );
}

export const NOTIFY_TEXT: Record<NotifyOutcome, string> = {
  queued: "notified",
  silenced: "silenced",
  quiet_hours: "quiet hours",
  no_channels: "no channel",
  none: "—",
};

/** "for 10 min", "for 1 h 30 min", "at once" (a for-duration of 0 fires on the first sample). */
export function formatForDuration(minutes: number): string {
  if (!(minutes > 0)) return "at once";
  const total = Math.round(minutes);
  const h = Math.floor(total / 60);
  const m = total % 60;
  if (h === 0) return `for ${m} min`;
  return m === 0 ? `for ${h} h` : `for ${h} h ${m} min`;
}

/**
 * The silences in force for an alarm: its own and its location's (maintenance windows). The
 * server's `active` (as of the fetch) counts too, so a silence created a moment ago shows at
 * once even when the page's clock (refreshed every few seconds) lags behind its start.
 */
export function silencesFor(alarm: Alarm, silences: Silence[], nowS: number): Silence[] {
  return silences.filter(
    (s) => (s.active || s.startsAt <= nowS) && nowS < s.endsAt
      && (s.alarmId === alarm.id || (s.alarmId === null && s.location === alarm.location)),
  );
}
