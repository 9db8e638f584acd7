import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { anomaly, T0 } from "../test/fixtures";
import { AnomaliesTable } from "./AnomaliesTable";

function setup(list = [
  anomaly({ severity: "high", score: 0.91, time: T0 + 3600 }),
  anomaly({ severity: "low", score: 0.52, time: T0 + 7200, metric: "wind_speed_10m", methods: ["rule"] }),
]) {
  const onFeedback = vi.fn();
  const onOpen = vi.fn();
  render(<AnomaliesTable anomalies={list} timeZone="UTC" now={T0 + 86400} metric={null} onMetricChange={() => undefined}
    onOpen={onOpen} onFeedback={onFeedback} busyId={null} />);
  return { onFeedback, onOpen, list };
}

describe("AnomaliesTable", () => {
  it("filters by severity and method", async () => {
    setup();
    expect(screen.getAllByRole("row")).toHaveLength(3);
    await userEvent.selectOptions(screen.getByRole("combobox", { name: "Severity" }), "high");
    expect(screen.getAllByRole("row")).toHaveLength(2);
    await userEvent.selectOptions(screen.getByRole("combobox", { name: "Method" }), "rule");
    expect(screen.getByText("No anomaly matches these filters.")).toBeInTheDocument();
  });

  it("sorts by score when the header is clicked, announcing the order", async () => {
    setup();
    const header = screen.getByRole("columnheader", { name: /Score/ });
    await userEvent.click(within(header).getByRole("button"));
    expect(header).toHaveAttribute("aria-sort", "descending");
    const scores = screen.getAllByRole("row").slice(1).map((r) => within(r).getAllByRole("cell")[4]?.textContent);
    expect(scores).toEqual(["0.91", "0.52"]);
  });

  it("opens an anomaly and sends feedback", async () => {
    const { onFeedback, onOpen, list } = setup();
    const row = screen.getAllByRole("row")[1] as HTMLElement; // newest first: list[1]
    await userEvent.click(within(row).getByRole("button", { name: /as false positive/ }));
    expect(onFeedback).toHaveBeenCalledWith(list[1], "false_positive");
    await userEvent.click(within(row).getAllByRole("button")[0] as HTMLElement);
    expect(onOpen).toHaveBeenCalledWith(list[1]);
  });
});
