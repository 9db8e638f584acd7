import { useEffect, useRef, useState, useSyncExternalStore } from "react";
import { authHeaders, getToken, subscribeToken } from "../api/client";
import { SseParser, type SseEvent } from "../lib/sse";
import { useLatest } from "./useLatest";

export type StreamState = "connecting" | "open" | "closed";

export interface LiveEvent {
  type: string;
  data: Record<string, unknown>;
}

// The server sends: anomaly, anomaly_feedback, suggestion, alarm (a state change).
const EVENT_TYPES = new Set(["anomaly", "anomaly_feedback", "suggestion", "alarm", "message"]);

/** Until the server says otherwise with `retry:` (it does on connect). */
export const DEFAULT_RETRY_MS = 3_000;
/** Longest wait between attempts, whatever `retry:` or the backoff says. */
export const MAX_RETRY_MS = 60_000;

/** The wait before reconnecting: the server's delay, doubled per failure in a row, capped. */
export function reconnectDelay(retryMs: number, failures: number): number {
  return Math.min(MAX_RETRY_MS, retryMs * 2 ** Math.min(Math.max(failures - 1, 0), 10));
}

function toLiveEvent(e: SseEvent): LiveEvent | null {
  if (!EVENT_TYPES.has(e.type)) return null;
  let data: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(e.data);
    if (parsed && typeof parsed === "object") data = parsed as Record<string, unknown>;
  } catch {
    /* plain text */
  }
  const type = e.type === "message" && typeof data.type === "string" ? data.type : e.type;
  return { type, data };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const id = window.setTimeout(done, ms);
    function done() {
      window.clearTimeout(id);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

/**
 * Server-sent events from /events over fetch, not EventSource: EventSource cannot send the
 * Authorization header that closed reads need. Reconnects like EventSource (the server's
 * `retry:`, Last-Event-ID) with backoff on repeated failures; on 401/403 it stays closed until
 * the token changes.
 */
export function useEventStream(onEvent: (event: LiveEvent) => void, url = "/events"): StreamState {
  const [state, setState] = useState<StreamState>("connecting");
  const handler = useLatest(onEvent);
  // Reconnects resume after the last event seen, also when the token changes.
  const lastEventId = useRef("");
  const token = useSyncExternalStore(subscribeToken, getToken, () => null);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    let retryMs = DEFAULT_RETRY_MS;
    let failures = 0;

    /** One connection: "ended" (server closed the stream), "failed" or "unauthorized". */
    const connect = async (): Promise<"ended" | "failed" | "unauthorized"> => {
      const headers: Record<string, string> = { Accept: "text/event-stream", ...authHeaders() };
      if (lastEventId.current) headers["Last-Event-ID"] = lastEventId.current;
      const res = await fetch(url, { headers, signal, cache: "no-store" });
      if (res.status === 401 || res.status === 403) return "unauthorized";
      if (res.status === 400 || res.status === 422) lastEventId.current = ""; // an id it rejects: start afresh
      if (!res.ok || !res.body || !(res.headers.get("Content-Type") ?? "").startsWith("text/event-stream")) {
        await res.body?.cancel();
        return "failed";
      }
      setState("open");
      const parser = new SseParser(lastEventId.current);
      const decoder = new TextDecoder();
      const reader = res.body.getReader();
      let received = false;
      for (;;) {
        const { done, value } = await reader.read();
        const events = parser.push(done ? decoder.decode() : decoder.decode(value, { stream: true }));
        received ||= !done && value.length > 0;
        if (parser.retryMs !== null) retryMs = parser.retryMs;
        for (const e of events) {
          lastEventId.current = e.lastEventId;
          const live = toLiveEvent(e);
          if (live) handler.current(live);
        }
        if (done) break;
      }
      lastEventId.current = parser.lastEventId;
      // A stream that closes before sending anything counts as a failure: back off.
      return received ? "ended" : "failed";
    };

    const run = async () => {
      while (!signal.aborted) {
        setState("connecting");
        let outcome: "ended" | "failed" | "unauthorized";
        try {
          outcome = await connect();
        } catch {
          outcome = "failed"; // network error or a stream cut mid-way
        }
        if (signal.aborted) return;
        if (outcome === "unauthorized") {
          setState("closed"); // retrying cannot help: the token change restarts this effect
          return;
        }
        failures = outcome === "failed" ? failures + 1 : 0;
        setState(failures > 0 ? "closed" : "connecting");
        await sleep(reconnectDelay(retryMs, failures), signal);
      }
    };
    void run();
    return () => controller.abort();
  }, [url, token, handler]);

  return state;
}
