import { useEffect, useState } from "react";
import { useLatest } from "./useLatest";

export type StreamState = "connecting" | "open" | "closed";

export interface LiveEvent {
  type: string;
  data: Record<string, unknown>;
}

// The server sends: anomaly, anomaly_feedback, suggestion, alarm (a state change).
const EVENT_TYPES = ["anomaly", "anomaly_feedback", "suggestion", "alarm", "message"];

/** Server-sent events from /events (EventSource reconnects by itself). */
export function useEventStream(onEvent: (event: LiveEvent) => void, url = "/events"): StreamState {
  const [state, setState] = useState<StreamState>(() =>
    typeof EventSource === "undefined" ? "closed" : "connecting",
  );
  const handler = useLatest(onEvent);

  useEffect(() => {
    if (typeof EventSource === "undefined") return;
    const source = new EventSource(url);
    source.onopen = () => setState("open");
    source.onerror = () => setState(source.readyState === EventSource.CLOSED ? "closed" : "connecting");
    const listener = (e: MessageEvent<string>) => {
      let data: Record<string, unknown> = {};
      try {
        const parsed: unknown = JSON.parse(e.data);
        if (parsed && typeof parsed === "object") data = parsed as Record<string, unknown>;
      } catch {
        /* keep-alive or plain text */
      }
      const type = e.type === "message" && typeof data.type === "string" ? data.type : e.type;
      handler.current({ type, data });
    };
    for (const t of EVENT_TYPES) source.addEventListener(t, listener as EventListener);
    return () => source.close();
  }, [url, handler]);

  return state;
}
