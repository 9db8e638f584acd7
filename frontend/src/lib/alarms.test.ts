import { alarm, silence, T0 } from "../test/fixtures";
import { formatForDuration, silencesFor, sortAlarms } from "./alarms";

describe("alarms", () => {
  it("words the for-duration", () => {
    expect(formatForDuration(0)).toBe("at once");
    expect(formatForDuration(10)).toBe("for 10 min");
    expect(formatForDuration(60)).toBe("for 1 h");
    expect(formatForDuration(90)).toBe("for 1 h 30 min");
  });

  it("finds an alarm's own silences and its location's, only while in force", () => {
    const a = alarm({ id: 41, location: "Tokyo" });
    const own = silence({ alarmId: 41 });
    const other = silence({ alarmId: 42 });
    const place = silence({ location: "Tokyo" });
    const elsewhere = silence({ location: "Lisbon" });
    const over = silence({ alarmId: 41, endsAt: T0 + 60, active: false });
    const later = silence({ alarmId: 41, startsAt: T0 + 7200, endsAt: T0 + 9000, active: false });
    expect(silencesFor(a, [own, other, place, elsewhere, over, later], T0 + 120)).toEqual([own, place]);
  });

  it("trusts the server's active flag when the page clock lags behind a new silence", () => {
    const fresh = silence({ alarmId: 41, startsAt: T0 + 10, endsAt: T0 + 3610, active: true });
    expect(silencesFor(alarm({ id: 41 }), [fresh], T0)).toEqual([fresh]);
  });

  it("lists firing first and disabled rules last", () => {
    const ok = alarm({ state: "ok" });
    const firing = alarm({ state: "firing" });
    const off = alarm({ state: "firing", enabled: false });
    const pending = alarm({ state: "pending" });
    expect(sortAlarms([off, ok, pending, firing]).map((a) => a.id)).toEqual([firing.id, pending.id, ok.id, off.id]);
  });
});
