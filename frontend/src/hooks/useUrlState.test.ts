import { formatUrlState, parseUrlState } from "./useUrlState";

describe("URL state", () => {
  it("round-trips location, metric, range and tab", () => {
    const state = parseUrlState("?location=S%C3%A3o+Paulo&metric=wind_speed_10m&range=7d&tab=suggestions");
    expect(state).toMatchObject({ location: "São Paulo", metric: "wind_speed_10m", range: "7d", tab: "suggestions" });
    expect(parseUrlState(formatUrlState(state))).toEqual(state);
  });

  it("holds the Alarms tab", () => {
    const state = parseUrlState("?location=Tokyo&tab=alarms");
    expect(state.tab).toBe("alarms");
    expect(formatUrlState(state)).toBe("?location=Tokyo&tab=alarms");
  });

  it("keeps a custom range's bounds", () => {
    const state = parseUrlState("?location=Tokyo&range=custom&since=2026-12-01T00:00:00Z&until=2026-12-02T00:00:00Z");
    expect(state.range).toBe("custom");
    expect(state.since).toBe(Date.UTC(2026, 11, 1) / 1000);
    expect(formatUrlState(state)).toContain("since=2026-12-01T00%3A00%3A00.000Z");
  });

  it("falls back to defaults on nonsense", () => {
    expect(parseUrlState("?range=1y&tab=nope")).toMatchObject({ location: null, range: "24h", tab: "anomalies" });
    expect(parseUrlState("?range=custom").range).toBe("24h");
    expect(formatUrlState(parseUrlState(""))).toBe("");
  });
});
