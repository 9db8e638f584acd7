import { api, ApiError, downloadAlarmExport, getToken, isAuthError, request, setToken, subscribeToken } from "./client";

function stubFetch(status = 200, body: unknown = { count: 0, locations: [] }) {
  const fetchMock = vi.fn<typeof fetch>(() =>
    Promise.resolve(new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } })),
  );
  vi.stubGlobal("fetch", fetchMock);
  return (call = 0) => new Headers(fetchMock.mock.calls[call]?.[1]?.headers);
}

describe("client headers", () => {
  beforeEach(() => window.localStorage.clear());
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it("sends no Authorization header without a stored token", async () => {
    const headers = stubFetch();
    await api.locations();
    expect(headers().has("Authorization")).toBe(false);
    expect(headers().get("Accept")).toBe("application/json");
  });

  it("sends the stored token on reads as well as writes", async () => {
    setToken("s3cret");
    const headers = stubFetch(200, {
      count: 0, locations: [], status: "ok", source: "simulated", dependencies: {}, services: [], streams: [],
    });
    await api.locations();
    await request("/alarm-suggestions/1/accept", { method: "POST" });
    await api.health();
    for (const call of [0, 1, 2]) expect(headers(call).get("Authorization")).toBe("Bearer s3cret");
    expect(headers(1).has("Content-Type")).toBe(false); // no body, no content type
  });

  it("stops sending the token once it is cleared", async () => {
    setToken("s3cret");
    setToken(null);
    const headers = stubFetch();
    await api.locations();
    expect(headers().has("Authorization")).toBe(false);
  });

  it("turns a refused read into an ApiError with the server's message", async () => {
    stubFetch(401, { detail: "invalid bearer token", errors: [] });
    const err: unknown = await api.locations().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 401, message: "invalid bearer token" });
    expect(isAuthError(err)).toBe(true);
    expect(isAuthError(new ApiError(403, "role too low"))).toBe(true);
    expect(isAuthError(new ApiError(404, "no such location"))).toBe(false);
  });

  it("tells subscribers when the token changes, until they unsubscribe", () => {
    const listener = vi.fn();
    const unsubscribe = subscribeToken(listener);
    setToken("a");
    window.dispatchEvent(new StorageEvent("storage", { key: "preempt.token" })); // another tab
    window.dispatchEvent(new StorageEvent("storage", { key: "other" }));
    expect(listener).toHaveBeenCalledTimes(2);
    unsubscribe();
    setToken("b");
    expect(listener).toHaveBeenCalledTimes(2);
  });

  it("keeps the token in memory when storage refuses it", async () => {
    vi.spyOn(Storage.prototype, "setItem").mockImplementation(() => { throw new Error("quota"); });
    vi.spyOn(Storage.prototype, "getItem").mockImplementation(() => { throw new Error("denied"); });
    setToken("private");
    expect(getToken()).toBe("private");
    const headers = stubFetch();
    await api.locations();
    expect(headers().get("Authorization")).toBe("Bearer private");
  });

  it("downloads an export with the token as a named file, and names a refusal", async () => {
    setToken("viewer-token");
    const headers = stubFetch(200, { groups: [] });
    const created = vi.fn(() => "blob:export");
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: created, revokeObjectURL: vi.fn() }));
    const clicked: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(`${this.download} ${this.getAttribute("href") ?? ""}`);
    });
    await downloadAlarmExport(7);
    expect(headers().get("Authorization")).toBe("Bearer viewer-token");
    expect(clicked).toEqual(["preempt-alarm-7.rules.yml blob:export"]);

    stubFetch(401, { detail: "invalid bearer token" });
    await expect(downloadAlarmExport(7)).rejects.toMatchObject({ status: 401, message: "invalid bearer token" });
    expect(clicked).toHaveLength(1);
  });
});
