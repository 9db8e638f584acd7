import { act, renderHook, waitFor } from "@testing-library/react";
import { setToken } from "../api/client";
import { MAX_RETRY_MS, reconnectDelay, useEventStream, type LiveEvent } from "./useEventStream";

type Reply = Response | Error | ((signal: AbortSignal) => Response);

/** A text/event-stream response sending `chunks`; it stays open (until aborted) unless `end`. */
function stream(chunks: string[], end = false) {
  return (signal: AbortSignal) => {
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const c of chunks) controller.enqueue(encoder.encode(c));
        if (end) controller.close();
        else signal.addEventListener("abort", () => controller.error(new DOMException("aborted", "AbortError")));
      },
    });
    return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
  };
}

/** fetch answering `replies` in order (the last one repeats); records each call. */
function stubFetch(...replies: Reply[]) {
  const calls: { headers: Headers; signal: AbortSignal; at: number }[] = [];
  vi.stubGlobal("fetch", vi.fn((_url: RequestInfo | URL, init?: RequestInit) => {
    const signal = init?.signal ?? new AbortController().signal;
    calls.push({ headers: new Headers(init?.headers), signal, at: Date.now() });
    const reply = replies[Math.min(calls.length, replies.length) - 1];
    if (reply instanceof Error) return Promise.reject(reply);
    return Promise.resolve(typeof reply === "function" ? reply(signal) : reply);
  }));
  return calls;
}

function mount() {
  const events: LiveEvent[] = [];
  const hook = renderHook(() => useEventStream((e) => events.push(e)));
  return { events, hook };
}

describe("useEventStream", () => {
  beforeEach(() => window.localStorage.clear());
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it("sends the token and dispatches the event types it knows", async () => {
    setToken("t0k");
    const calls = stubFetch(stream([
      "retry: 10\n: connected\n\n",
      'event: anomaly\nid: 1.0.0.0\ndata: {"location":"Tokyo"}\n\n',
      "event: sugg", 'estion\nid: 2.0.0.0\ndata: {"id":3,\n', 'data: "status":"accepted"}\n\n',
      'event: unknown\ndata: {}\n\ndata: {"type":"heartbeat"}\r\n\r\n',
    ]));
    const { events, hook } = mount();
    await waitFor(() => expect(events).toHaveLength(3));
    expect(hook.result.current).toBe("open");
    expect(events).toEqual([
      { type: "anomaly", data: { location: "Tokyo" } },
      { type: "suggestion", data: { id: 3, status: "accepted" } },
      { type: "heartbeat", data: { type: "heartbeat" } },
    ]);
    expect(calls[0]?.headers.get("Authorization")).toBe("Bearer t0k");
    expect(calls[0]?.headers.get("Accept")).toBe("text/event-stream");
    expect(calls[0]?.headers.has("Last-Event-ID")).toBe(false);
  });

  it("sends no Authorization header without a token", async () => {
    const calls = stubFetch(stream([": connected\n\n"]));
    const { hook } = mount();
    await waitFor(() => expect(hook.result.current).toBe("open"));
    expect(calls[0]?.headers.has("Authorization")).toBe(false);
  });

  it("reconnects after the stream ends, after the server's retry delay, with Last-Event-ID", async () => {
    const calls = stubFetch(
      stream(["retry: 40\n\nid: 5.1.1.1\nevent: alarm\ndata: {}\n\n"], true),
      stream([": connected\n\n"]),
    );
    const { events, hook } = mount();
    await waitFor(() => expect(calls).toHaveLength(2));
    expect(events).toEqual([{ type: "alarm", data: {} }]);
    expect(calls[1]?.headers.get("Last-Event-ID")).toBe("5.1.1.1");
    expect((calls[1]?.at ?? 0) - (calls[0]?.at ?? 0)).toBeGreaterThanOrEqual(35);
    await waitFor(() => expect(hook.result.current).toBe("open"));
  });

  it("drops a Last-Event-ID the server rejects and reconnects without it", async () => {
    const rejected = new Response(JSON.stringify({ detail: "not an event id from this stream" }), { status: 422 });
    const calls = stubFetch(stream(["retry: 5\nid: 9.9.9.9\ndata: {}\n\n"], true), rejected, stream([": connected\n\n"]));
    const { hook } = mount();
    await waitFor(() => expect(calls).toHaveLength(3));
    expect(calls[1]?.headers.get("Last-Event-ID")).toBe("9.9.9.9");
    expect(calls[2]?.headers.has("Last-Event-ID")).toBe(false);
    await waitFor(() => expect(hook.result.current).toBe("open"));
  });

  it("on 401 reports closed and waits for a token instead of retrying", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const refused = new Response(JSON.stringify({ detail: "missing bearer token" }), { status: 401 });
    const calls = stubFetch(refused, stream([": connected\n\n"]));
    const { hook } = mount();
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(hook.result.current).toBe("closed");
    await act(() => vi.advanceTimersByTimeAsync(10 * MAX_RETRY_MS));
    expect(calls).toHaveLength(1);
    act(() => setToken("viewer"));
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(hook.result.current).toBe("open");
    expect(calls).toHaveLength(2);
    expect(calls[1]?.headers.get("Authorization")).toBe("Bearer viewer");
  });

  it("backs off on repeated failures: not a stream, then network errors", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const html = new Response("<!doctype html>", { headers: { "Content-Type": "text/html" } });
    const calls = stubFetch(html, new TypeError("network down"));
    const { hook } = mount();
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(calls).toHaveLength(1);
    expect(hook.result.current).toBe("closed");
    await act(() => vi.advanceTimersByTimeAsync(2_999));
    expect(calls).toHaveLength(1);
    await act(() => vi.advanceTimersByTimeAsync(1));
    expect(calls).toHaveLength(2);
    await act(() => vi.advanceTimersByTimeAsync(5_999)); // twice the delay after a second failure
    expect(calls).toHaveLength(2);
    await act(() => vi.advanceTimersByTimeAsync(1));
    expect(calls).toHaveLength(3);
  });

  it("aborts the request on unmount and does not reconnect", async () => {
    const calls = stubFetch(stream([": connected\n\n"]));
    const { hook } = mount();
    await waitFor(() => expect(hook.result.current).toBe("open"));
    hook.unmount();
    expect(calls[0]?.signal.aborted).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toHaveLength(1);
  });

  it("caps the reconnect delay", () => {
    expect([0, 1, 2, 3].map((f) => reconnectDelay(1_000, f))).toEqual([1_000, 1_000, 2_000, 4_000]);
    expect(reconnectDelay(1_000, 50)).toBe(MAX_RETRY_MS);
    expect(reconnectDelay(86_400_000, 0)).toBe(MAX_RETRY_MS);
  });
});
