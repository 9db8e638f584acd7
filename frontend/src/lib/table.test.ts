import { anomaly } from "../test/fixtures";
import { filterAnomalies, NO_FILTERS, pageOf, sortAnomalies } from "./table";

describe("anomaly table logic", () => {
  const list = [
    anomaly({ metric: "temperature_2m", severity: "high", score: 0.9, time: 300, methods: ["seasonal"] }),
    anomaly({ metric: "wind_speed_10m", severity: "low", score: 0.5, time: 200, methods: ["rule"] }),
    anomaly({ metric: "wind_speed_10m", severity: "medium", score: 0.7, time: 100, methods: ["iforest", "rule"], status: "confirmed" }),
  ];

  it("filters by metric, severity, method, status and time", () => {
    expect(filterAnomalies(list, { ...NO_FILTERS, metric: "wind_speed_10m" })).toHaveLength(2);
    expect(filterAnomalies(list, { ...NO_FILTERS, severity: "high" })).toHaveLength(1);
    expect(filterAnomalies(list, { ...NO_FILTERS, method: "rule" })).toHaveLength(2);
    expect(filterAnomalies(list, { ...NO_FILTERS, status: "confirmed" })).toHaveLength(1);
    expect(filterAnomalies(list, { ...NO_FILTERS, sinceS: 150 })).toHaveLength(2);
  });

  it("sorts by any column both ways", () => {
    expect(sortAnomalies(list, "score", "desc").map((a) => a.score)).toEqual([0.9, 0.7, 0.5]);
    expect(sortAnomalies(list, "time", "asc").map((a) => a.time)).toEqual([100, 200, 300]);
    expect(sortAnomalies(list, "severity", "desc").map((a) => a.severity)).toEqual(["high", "medium", "low"]);
  });

  it("pages and clamps the page number", () => {
    const items = Array.from({ length: 31 }, (_, i) => i);
    expect(pageOf(items, 0, 15)).toMatchObject({ pages: 3, page: 0, items: items.slice(0, 15) });
    expect(pageOf(items, 9, 15)).toMatchObject({ page: 2, items: [30] });
    expect(pageOf([], 0, 15)).toMatchObject({ pages: 1, page: 0, items: [] });
  });
});
