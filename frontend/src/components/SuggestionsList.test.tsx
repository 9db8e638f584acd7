import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { series, suggestion } from "../test/fixtures";
import { SuggestionsList } from "./SuggestionsList";

describe("SuggestionsList", () => {
  it("shows threshold, confidence, backtest and a preview; accepts in one click", async () => {
    const onAccept = vi.fn();
    const s = suggestion({ metric: "temperature_2m", threshold: 18, operator: ">" });
    render(
      <SuggestionsList suggestions={[s]} seriesByMetric={new Map([["temperature_2m", series()]])}
        busyId={null} onAccept={onAccept} onDismiss={() => undefined} />,
    );
    const item = screen.getByRole("listitem");
    expect(within(item).getByRole("heading")).toHaveTextContent("Temperature > 18.0 °C");
    expect(item).toHaveTextContent("confidence 80%");
    expect(item).toHaveTextContent("caught 4 of 5 anomalies, no false alarms, ≈ 0.7 fires a week");
    expect(within(item).getByRole("img", { name: /Threshold > 18.0 °C: \d+ of 24 recent samples beyond it/ })).toBeInTheDocument();
    await userEvent.click(within(item).getByRole("button", { name: "Accept" }));
    expect(onAccept).toHaveBeenCalledWith(s);
  });

  it("dismisses with the typed reason; decided suggestions have no buttons", async () => {
    const onDismiss = vi.fn();
    const open = suggestion();
    const done = suggestion({ status: "accepted" });
    render(<SuggestionsList suggestions={[done, open]} seriesByMetric={new Map()} busyId={null}
      onAccept={() => undefined} onDismiss={onDismiss} />);
    const [first, second] = screen.getAllByRole("listitem");
    expect(first).toHaveTextContent("suggested"); // open ones first
    expect(within(second as HTMLElement).queryByRole("button")).toBeNull();
    expect(second).toHaveTextContent("accepted — alarm created");
    await userEvent.type(within(first as HTMLElement).getByLabelText("Reason for dismissing"), "too noisy");
    await userEvent.click(within(first as HTMLElement).getByRole("button", { name: "Dismiss" }));
    expect(onDismiss).toHaveBeenCalledWith(open, "too noisy");
  });

  it("explains the empty state", () => {
    render(<SuggestionsList suggestions={[]} seriesByMetric={new Map()} busyId={null}
      onAccept={() => undefined} onDismiss={() => undefined} />);
    expect(screen.getByText(/after 3 or more anomalies/)).toBeInTheDocument();
  });
});
