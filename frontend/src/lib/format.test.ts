import { axisTimeLabels, formatAgo, formatClock, formatValue, parseTime } from "./format";

describe("format", () => {
  it("reads a timestamp without offset as UTC", () => {
    expect(parseTime("2026-12-03T12:00:00")).toBe(Date.UTC(2026, 11, 3, 12) / 1000);
    expect(parseTime("2026-12-03T12:00:00+00:00")).toBe(Date.UTC(2026, 11, 3, 12) / 1000);
    expect(parseTime("2026-12-03T13:00:00+01:00")).toBe(Date.UTC(2026, 11, 3, 12) / 1000);
    expect(parseTime("not a time")).toBeNull();
    expect(parseTime(null)).toBeNull();
  });

  it("puts units after values the way people write them", () => {
    expect(formatValue(21.04, "temperature_2m")).toBe("21.0 °C");
    expect(formatValue(55, "relative_humidity_2m")).toBe("55.0%");
    expect(formatValue(null, "precipitation")).toBe("–");
    expect(formatValue(3, "unknown_metric")).toBe("3.0");
  });

  it("shows the clock of the location's time zone", () => {
    const noonUtc = Date.UTC(2026, 11, 3, 12) / 1000;
    expect(formatClock(noonUtc, "Asia/Tokyo")).toBe("21:00");
    expect(formatClock(noonUtc, "Not/AZone")).toBe("12:00");
  });

  it("says how long ago", () => {
    expect(formatAgo(100, 130)).toBe("30 s ago");
    expect(formatAgo(0, 7200)).toBe("2 h ago");
    expect(formatAgo(null)).toBe("never");
  });

  it("labels the day under the first tick and where the day changes", () => {
    const t = Date.UTC(2026, 11, 3, 12) / 1000;
    const labels = axisTimeLabels([t, t + 6 * 3600, t + 12 * 3600], "UTC");
    expect(labels[0]).toBe("12:00\nThu 3");
    expect(labels[1]).toBe("18:00");
    expect(labels[2]).toBe("00:00\nFri 4");
  });
});
