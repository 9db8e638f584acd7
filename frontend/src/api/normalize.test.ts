import { toAnomalyPage, toHealth, toOverview, toSeries, toSuggestion } from "./normalize";
import type { Wire } from "./normalize";

describe("normalize", () => {
  it("turns the metrics response into aligned series with bands", () => {
    const body: Wire["MetricsOut"] = {
      location: "Tokyo", hours: 24, since: "2026-12-02T00:00:00+00:00", until: "2026-12-03T00:00:00+00:00",
      bands: true, count: 2,
      metrics: {
        temperature_2m: {
          unit: "°C", count: 2,
          data: [
            { timestamp: "2026-12-02T00:00:00+00:00", value: 5, expected: 6, lower: 3, upper: 9 },
            { timestamp: "2026-12-02T01:00:00+00:00", value: 7 },
          ],
        },
      },
    };
    const [s] = toSeries(body);
    expect(s).toEqual({
      metric: "temperature_2m", unit: "°C",
      times: [Date.UTC(2026, 11, 2) / 1000, Date.UTC(2026, 11, 2, 1) / 1000],
      values: [5, 7], expected: [6, null], lower: [3, null], upper: [9, null],
    });
  });

  it("reads an anomaly page and its cursor", () => {
    const page = toAnomalyPage({
      location: "Tokyo", count: 1, next_cursor: "abc",
      anomalies: [{
        id: 9, location: "Tokyo", location_id: 1, metric_type: "precipitation", unit: "mm",
        timestamp: "2026-12-02T05:00:00", value: 40, expected: 1, lower: 0, upper: 5, z_score: null,
        score: 0.95, severity: "high", methods: ["seasonal", "rule"], explanation: "heavy",
        status: "false_positive", feedback: null, detected_at: "2026-12-02T05:10:00", updated_at: "2026-12-02T05:10:00",
      }],
    });
    expect(page.nextCursor).toBe("abc");
    expect(page.items[0]).toMatchObject({ id: 9, metric: "precipitation", severity: "high", status: "false_positive", methods: ["seasonal", "rule"] });
  });

  it("takes the backtest figures of a suggestion", () => {
    const s = toSuggestion({
      id: 3, location: "Tokyo", location_id: 1, metric_type: "wind_speed_10m", unit: "km/h", direction: "above",
      operator: ">", threshold: 62, confidence: 0.8, description: "Wind above 62 km/h", anomaly_count: 5,
      backtest: { caught: 4, missed: 1, false_fires: 2, fires_per_week: 0.5, percentile: 99, persistence_k: 1, persistence_n: 1 },
      status: "accepted", decision: null, suggested_at: "2026-12-02T00:00:00", updated_at: "2026-12-02T00:00:00",
    });
    expect(s).toMatchObject({ caught: 4, missed: 1, falseFires: 2, firesPerWeek: 0.5, status: "accepted" });
  });

  function healthBody(): Wire["Health"] {
    return { status: "healthy", time: "x", source: "open-meteo", version: "1", uptime_s: 1, dependencies: {}, services: [], streams: [] };
  }

  it("reads health: simulated source, ML from the trainer's beat, last collect, lag", () => {
    const h = toHealth({
      status: "healthy", time: "2026-12-03T00:00:00Z", source: "simulated", version: "1", uptime_s: 5,
      dependencies: { database: { status: "ok", latency_ms: 1.5 }, redis: { status: "not_configured", detail: "in-process" } },
      services: [
        { service: "collect", instance: "a", status: "ok", beat_at: "2026-12-03T00:00:00Z", age_s: 1, info: {} },
        { service: "collect", instance: "b", status: "ok", beat_at: "2026-12-02T00:00:00Z", age_s: 1, info: {} },
        { service: "ml-trainer", instance: "c", status: "ok", beat_at: "2026-12-03T00:00:00Z", age_s: 1, info: {} },
      ],
      streams: [{ stream: "weather_metrics", length: 10, group: "store", pending: 0, lag: 3 }],
    });
    expect(h.simulated).toBe(true);
    expect(h.ml).toBe(true);
    expect(toHealth({ ...healthBody(), services: [
      { service: "detect", instance: "d", status: "stopped", beat_at: "2026-12-03T00:00:00Z", age_s: 1, info: { ml: "off" } },
    ] }).ml).toBe(false);
    expect(h.services.map((s) => s.service)).toEqual(["collect", "ml-trainer"]);
    expect(h.lastCollect).toBe(Date.UTC(2026, 11, 3) / 1000);
    expect(h.streamLag).toBe(3);
    expect(h.dependencies).toContainEqual({ name: "database", status: "ok", detail: "1.5 ms" });
  });

  it("reads overview counts for the map", () => {
    expect(toOverview({
      since: "x", until: "y", count: 1,
      locations: [{ id: 1, name: "Tokyo", latitude: 1, longitude: 2, anomalies: { low: 1, medium: 2, high: 3, total: 6 }, worst: "high", latest_at: null }],
    })).toEqual([{ location: "Tokyo", low: 1, medium: 2, high: 3 }]);
  });
});
