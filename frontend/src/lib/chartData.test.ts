import { anomaly, series, T0 } from "../test/fixtures";
import { buildChartData, nearestIndex, yRange } from "./chartData";

describe("chart data", () => {
  it("finds the nearest sample", () => {
    expect(nearestIndex([0, 10, 20], 14)).toBe(1);
    expect(nearestIndex([0, 10, 20], 16)).toBe(2);
    expect(nearestIndex([], 5)).toBe(-1);
  });

  it("puts each anomaly of the metric in its severity's marker column", () => {
    const s = series("temperature_2m", 24);
    const { data, atIndex } = buildChartData(s, [
      anomaly({ time: T0 + 5 * 3600, severity: "high", value: 30 }),
      anomaly({ time: T0 + 7 * 3600, severity: "low", value: 1 }),
      anomaly({ time: T0 + 8 * 3600, metric: "wind_speed_10m" }), // other chart
      anomaly({ time: T0 - 30 * 86400 }), // outside the range
    ]);
    expect(atIndex.size).toBe(2);
    expect(data).toHaveLength(8); // x, value, lower, upper, expected, low, medium, high
    expect(data[7]?.[5]).toBe(30);
    expect(data[5]?.[7]).toBe(1);
    expect(Array.from(data[6] ?? []).every((v) => v === null)).toBe(true);
  });

  it("fits the readings, not a wide band, and respects physical limits", () => {
    const s = { ...series("relative_humidity_2m", 3), values: [90, 95, 99], expected: [92, 96, 150] };
    const [lo, hi] = yRange(s);
    expect(hi).toBe(100);
    expect(lo).toBeGreaterThan(0);
    const rain = { ...series("precipitation", 3), values: [0, 0, 1], expected: [0, 0, 0] };
    expect(yRange(rain)[0]).toBe(0);
  });
});
