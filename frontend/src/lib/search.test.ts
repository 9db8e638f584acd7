import { location } from "../test/fixtures";
import { indexLocations, searchLocations } from "./search";

describe("searchLocations", () => {
  const index = indexLocations(
    ["São Paulo", "Paris", "Tokyo", "Kyoto", "Port-au-Prince", "New York"].map((n) => location(n, { countryCode: "" })),
  );

  it("ranks prefix matches before word and substring matches", () => {
    expect(searchLocations(index, "p").map((l) => l.name)).toEqual(["Paris", "Port-au-Prince", "São Paulo"]);
    expect(searchLocations(index, "yo").map((l) => l.name)).toEqual(["New York", "Kyoto", "Tokyo"]);
  });

  it("ignores accents and case", () => {
    expect(searchLocations(index, "SAO PAU").map((l) => l.name)).toEqual(["São Paulo"]);
  });

  it("lists everything alphabetically for an empty query, up to the limit", () => {
    expect(searchLocations(index, "", 2).map((l) => l.name)).toEqual(["Kyoto", "New York"]);
  });

  it("stays fast over thousands of names", () => {
    const many = indexLocations(Array.from({ length: 10_000 }, (_, i) => location(`City ${i}`)));
    const started = performance.now();
    expect(searchLocations(many, "city 99").length).toBe(50);
    expect(performance.now() - started).toBeLessThan(100);
  });
});
