import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { App } from "./App";

// The network is the seam: a fake server answering the API's JSON shapes.
const suggestionJson = (status: string) => ({
  id: 7, location: "Tokyo", location_id: 1, metric_type: "wind_speed_10m", unit: "km/h", direction: "above",
  operator: ">", threshold: 62, confidence: 0.8, description: "Wind above 62 km/h in Tokyo", anomaly_count: 5,
  backtest: { caught: 4, missed: 1, false_fires: 0, fires_per_week: 0.7, percentile: 99, persistence_k: 1, persistence_n: 1 },
  status, decision: null, suggested_at: "2026-12-02T00:00:00", updated_at: "2026-12-02T00:00:00",
});

const alarmJson = {
  id: 3, name: "Wind > 62 km/h in Tokyo", location: "Tokyo", location_id: 1, metric_type: "wind_speed_10m", unit: "km/h",
  operator: ">", threshold: 62, hysteresis: 2, for_minutes: 0, severity: "medium", quiet_hours: null, channels: [],
  enabled: true, suggestion_id: 7, created_by: "editor", created_at: "2026-12-02T00:00:00", updated_at: "2026-12-02T00:00:00",
  state: "firing", state_changed_at: "2026-12-02T00:05:00", last_value: 70, last_sample_at: "2026-12-02T00:05:00",
};

/** `readAuth`: the Authorization every read must carry (a server with `reads_open: false`). */
function fakeServer(acceptAuth: string, readAuth?: string) {
  const calls: { url: string; init?: RequestInit }[] = [];
  let accepted = false;
  let silenced = false;
  const json = (body: unknown, status = 200) =>
    Promise.resolve(new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }));
  const fetchMock = vi.fn((input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    calls.push({ url, init });
    const path = url.split("?")[0];
    const auth = new Headers(init?.headers).get("Authorization");
    if (readAuth && path !== "/api/health" && (init?.method ?? "GET") === "GET" && auth !== readAuth) {
      const detail = auth ? "invalid bearer token" : "missing bearer token: send 'Authorization: Bearer <token>' (role viewer or higher)";
      return json({ detail, errors: [] }, 401);
    }
    if (path === "/api/locations") {
      return json({ count: 1, locations: [{ id: 1, name: "Tokyo", latitude: 35.7, longitude: 139.7, country_code: "JP", timezone: "Asia/Tokyo" }] });
    }
    if (path === "/api/health") {
      return json({ status: "healthy", time: "x", source: "simulated", version: "1", uptime_s: 1, dependencies: {}, services: [], streams: [] });
    }
    if (path === "/api/overview") return json({ since: "x", until: "y", count: 0, locations: [] });
    if (path === "/api/metrics") return json({ location: "Tokyo", hours: 24, since: "x", until: "y", bands: false, count: 0, metrics: {} });
    if (path === "/api/anomalies") return json({ location: "Tokyo", count: 0, anomalies: [], next_cursor: null });
    if (path === "/api/alarm-suggestions") return json({ location: "Tokyo", count: 1, suggestions: [suggestionJson("open")], next_cursor: null });
    if (path === "/api/alarm-suggestions/7/accept") {
      if (auth === acceptAuth) accepted = true;
      return auth === acceptAuth
        ? json(suggestionJson("accepted"))
        : json({ detail: "missing bearer token: send 'Authorization: Bearer <token>' (role editor or higher)", errors: [] }, 401);
    }
    if (path === "/api/alarms") {
      return json({ count: accepted ? 1 : 0, alarms: accepted ? [alarmJson] : [], next_cursor: null });
    }
    const silenceJson = { id: 11, alarm_id: 3, location: "Tokyo", location_id: 1, starts_at: "2026-12-02T00:00:00",
      ends_at: "2099-12-02T00:00:00", reason: "", created_by: "editor", created_at: "2026-12-02T00:00:00", active: true };
    if (path === "/api/alarm-silences" && init?.method === "POST") {
      silenced = true;
      return json(silenceJson, 201);
    }
    if (path === "/api/alarm-silences") return json({ count: silenced ? 1 : 0, silences: silenced ? [silenceJson] : [] });
    return json({ detail: `no such endpoint: ${path}`, errors: [] }, 404);
  });
  vi.stubGlobal("fetch", fetchMock);
  return calls;
}

async function submitToken(dialog: HTMLElement, token: string) {
  await userEvent.type(within(dialog).getByLabelText("API token"), token);
  await userEvent.click(within(dialog).getByRole("button", { name: "Save and retry" }));
}

describe("App", () => {
  beforeEach(() => {
    window.localStorage.clear();
    window.history.replaceState(null, "", "/?location=Tokyo&tab=suggestions");
  });
  afterEach(() => vi.unstubAllGlobals());

  it("shows the simulated-data badge and the location from the URL", async () => {
    fakeServer("Bearer x");
    render(<App />);
    expect(await screen.findByText("SIMULATED DATA")).toBeInTheDocument();
    expect(await screen.findByRole("heading", { name: "Tokyo", level: 2 })).toBeInTheDocument();
    expect(await screen.findByText(/No samples in this time range/)).toBeInTheDocument();
  });

  it("asks for a token when accepting needs one, then retries with it", async () => {
    const calls = fakeServer("Bearer s3cret");
    render(<App />);
    const item = await screen.findByRole("listitem");
    await userEvent.click(within(item).getByRole("button", { name: "Accept" }));
    const dialog = await screen.findByRole("dialog", { name: "Access token needed" });
    expect(dialog).toHaveTextContent("missing bearer token");
    await userEvent.type(within(dialog).getByLabelText("API token"), "s3cret");
    await userEvent.click(within(dialog).getByRole("button", { name: "Save and retry" }));
    expect(await within(item).findByText("accepted — alarm created")).toBeInTheDocument();
    expect(window.localStorage.getItem("preempt.token")).toBe("s3cret");
    expect(calls.filter((c) => c.url.endsWith("/accept"))).toHaveLength(2);
  });

  it("shows the rule an accepted suggestion created in the Alarms tab, and silences it", async () => {
    const calls = fakeServer("Bearer s3cret");
    window.localStorage.setItem("preempt.token", "s3cret");
    render(<App />);
    const item = await screen.findByRole("listitem");
    await userEvent.click(within(item).getByRole("button", { name: "Accept" }));
    await within(item).findByText("accepted — alarm created");
    const tab = screen.getByRole("tab", { name: /^Alarms/ });
    await within(tab).findByText("Alarms (1, 1 firing)");
    await userEvent.click(tab);
    expect(window.location.search).toContain("tab=alarms");
    const rule = await screen.findByRole("listitem", { name: "Wind > 62.0 km/h" });
    expect(within(rule).getByTestId("alarm-state")).toHaveTextContent("firing");
    await userEvent.click(within(rule).getByRole("button", { name: "Silence" }));
    expect(await within(rule).findByTestId("alarm-silenced")).toHaveTextContent("silenced until");
    const post = calls.find((c) => c.url === "/api/alarm-silences" && c.init?.method === "POST");
    expect(JSON.parse(String(post?.init?.body))).toMatchObject({ alarm_id: 3, duration_minutes: 60 });
    expect(within(rule).getByRole("button", { name: "Unsilence" })).toBeInTheDocument();
  });

  describe("with closed reads", () => {
    const locationCalls = (calls: { url: string }[]) => calls.filter((c) => c.url === "/api/locations").length;

    it("asks once for a viewer token, asks again after a wrong one, then loads with it", async () => {
      const calls = fakeServer("Bearer view", "Bearer view");
      render(<App />);
      let dialog = await screen.findByRole("dialog", { name: "Access token needed" });
      expect(screen.getAllByRole("dialog")).toHaveLength(1); // one dialog for all the refused reads
      expect(dialog).toHaveTextContent(/Reads on this server need a viewer token/);
      expect(dialog).toHaveTextContent("missing bearer token");
      await submitToken(dialog, "nope");
      dialog = await screen.findByRole("dialog", { name: "Access token needed" });
      await within(dialog).findByText(/The server said: invalid bearer token/);
      await submitToken(dialog, "view");
      expect(await screen.findByRole("listitem")).toHaveTextContent("Wind above 62");
      expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
      expect(window.localStorage.getItem("preempt.token")).toBe("view");
      expect(locationCalls(calls)).toBe(3); // first load, wrong token, right token: no loop
      const last = calls.filter((c) => c.url === "/api/locations").at(-1);
      expect(new Headers(last?.init?.headers).get("Authorization")).toBe("Bearer view");
    });

    it("after cancel shows the error and a way to enter a token later, without asking again", async () => {
      const calls = fakeServer("Bearer view", "Bearer view");
      render(<App />);
      const dialog = await screen.findByRole("dialog", { name: "Access token needed" });
      await userEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
      expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
      expect(screen.getAllByText(/Could not load: missing bearer token/).length).toBeGreaterThan(0);
      const banner = screen.getByText(/reads on this server need a viewer token/).closest("[role=alert]");
      expect(banner).not.toBeNull();
      const retry = within(screen.getByRole("complementary", { name: "Locations" })).getByRole("button", { name: "Retry" });
      await userEvent.click(retry);
      await waitFor(() => expect(locationCalls(calls)).toBe(2));
      await new Promise((r) => setTimeout(r, 50));
      expect(screen.queryByRole("dialog")).not.toBeInTheDocument(); // a retry does not reopen it
      await userEvent.click(within(banner as HTMLElement).getByRole("button", { name: "Enter token" }));
      await submitToken(await screen.findByRole("dialog", { name: "Access token needed" }), "view");
      expect(await screen.findByRole("listitem")).toHaveTextContent("Wind above 62");
      expect(screen.queryByText(/reads on this server need a viewer token/)).not.toBeInTheDocument();
      expect(locationCalls(calls)).toBe(3);
    });
  });
});
