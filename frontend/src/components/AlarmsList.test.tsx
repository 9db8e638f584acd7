import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { alarm, silence, T0 } from "../test/fixtures";
import { AlarmsList } from "./AlarmsList";

const noop = () => undefined;

function renderList(props: Partial<Parameters<typeof AlarmsList>[0]> = {}) {
  return render(
    <AlarmsList alarms={[]} silences={[]} now={T0 + 1800} timeZone="UTC" busyId={null}
      onSilence={noop} onUnsilence={noop} onToggle={noop} onExport={noop} {...props} />,
  );
}

describe("AlarmsList", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("shows the rule, its coloured state, since when, the last value and the export link", () => {
    const a = alarm({
      id: 5, metric: "temperature_2m", operator: ">", threshold: 31.5, forMinutes: 15, severity: "high",
      state: "firing", stateChangedAt: T0 + 600, lastValue: 33.25, lastSampleAt: T0 + 1500,
    });
    renderList({ alarms: [a] });
    const item = screen.getByRole("listitem", { name: "Temperature > 31.5 °C" });
    const state = within(item).getByTestId("alarm-state");
    expect(state).toHaveTextContent("firing");
    expect(state).toHaveClass("alarm-state-firing");
    expect(item).toHaveClass("alarm-firing");
    expect(item).toHaveTextContent("Temperature > 31.5 °C for 15 min");
    expect(item).toHaveTextContent("20 min ago");
    expect(item).toHaveTextContent("33.3 °C at Tue 1 Dec, 00:25");
    expect(item).toHaveTextContent("high");
    within(item).getByRole("button", { name: "Prometheus rule" });
  });

  it("exports the rule it is clicked on", async () => {
    const onExport = vi.fn();
    renderList({ alarms: [alarm({ id: 3 }), alarm({ id: 4 })], onExport });
    const second = screen.getAllByRole("listitem")[1] as HTMLElement;
    await userEvent.click(within(second).getByRole("button", { name: "Prometheus rule" }));
    expect(onExport).toHaveBeenCalledTimes(1);
    expect((onExport.mock.calls[0]?.[0] as { id: number }).id).toBe(4);
  });

  it("silences for the chosen period, and offers unsilence while silenced", async () => {
    const onSilence = vi.fn();
    const onUnsilence = vi.fn();
    const quiet = alarm({ id: 8 });
    const loud = alarm({ id: 9 });
    const s = silence({ alarmId: 8, endsAt: T0 + 8 * 3600 });
    renderList({ alarms: [quiet, loud], silences: [s], onSilence, onUnsilence });
    const [first, second] = screen.getAllByRole("listitem") as [HTMLElement, HTMLElement];
    expect(within(first).getByTestId("alarm-silenced")).toHaveTextContent("silenced until Tue 1 Dec, 08:00");
    await userEvent.click(within(first).getByRole("button", { name: "Unsilence" }));
    expect(onUnsilence).toHaveBeenCalledWith(quiet, [s]);
    expect(within(second).queryByTestId("alarm-silenced")).toBeNull();
    await userEvent.selectOptions(within(second).getByLabelText("Silence for"), "8 h");
    await userEvent.click(within(second).getByRole("button", { name: "Silence" }));
    expect(onSilence).toHaveBeenCalledWith(loud, 480);
  });

  it("enables and disables", async () => {
    const onToggle = vi.fn();
    const on = alarm();
    const off = alarm({ enabled: false });
    renderList({ alarms: [off, on], onToggle });
    await userEvent.click(screen.getByRole("button", { name: "Disable" }));
    expect(onToggle).toHaveBeenCalledWith(on, false);
    expect(screen.getByText("disabled")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Enable" }));
    expect(onToggle).toHaveBeenCalledWith(off, true);
  });

  it("expands the transition history from the keyboard", async () => {
    const fetchMock = vi.fn<(input: RequestInfo | URL) => Promise<Response>>(() => Promise.resolve(new Response(JSON.stringify({
      count: 2, next_cursor: null, history: [
        { id: 2, alarm_id: 3, location: "Tokyo", location_id: 1, metric_type: "wind_speed_10m", from_state: "pending",
          to_state: "firing", at: "2026-12-01T00:10:00", value: 70, threshold: 62, notify: "silenced", recorded_at: "x" },
        { id: 1, alarm_id: 3, location: "Tokyo", location_id: 1, metric_type: "wind_speed_10m", from_state: "ok",
          to_state: "pending", at: "2026-12-01T00:05:00", value: 65, threshold: 62, notify: "none", recorded_at: "x" },
      ],
    }), { status: 200, headers: { "Content-Type": "application/json" } })));
    vi.stubGlobal("fetch", fetchMock);
    renderList({ alarms: [alarm({ id: 3, state: "firing" })] });
    const toggle = screen.getByRole("button", { name: "History" });
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    toggle.focus();
    await userEvent.keyboard("{Enter}");
    expect(toggle).toHaveAttribute("aria-expanded", "true");
    const table = await screen.findByRole("table", { name: "State transitions, newest first" });
    const rows = within(table).getAllByRole("row");
    expect(rows).toHaveLength(3);
    expect(rows[1]).toHaveTextContent(/pending\W+to firing/);
    expect(rows[1]).toHaveTextContent("70.0 km/h");
    expect(rows[1]).toHaveTextContent("silenced");
    expect(fetchMock.mock.calls.map((c) => String(c[0]))).toEqual(["/api/alarms/3/history?limit=50"]);
  });

  it("explains the empty state", () => {
    renderList();
    expect(screen.getByText(/accept a suggestion in the Alarm suggestions tab/)).toBeInTheDocument();
  });
});
