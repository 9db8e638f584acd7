/**
 * A text/event-stream parser (the server-sent events format), fed decoded text in arbitrary
 * chunks. Pure: no I/O, so the fetch-based reader can be tested apart from the network.
 */

export interface SseEvent {
  /** The `event:` field, "message" when absent. */
  type: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** The last `id:` seen on the stream up to this event (ids carry over to later events). */
  lastEventId: string;
}

export class SseParser {
  /** The id to send as Last-Event-ID when reconnecting. */
  lastEventId: string;
  /** The reconnection delay the server asked for with `retry:`, null until it does. */
  retryMs: number | null = null;

  private buffer = "";
  private started = false;
  private skipLf = false; // the previous chunk ended on "\r": a "\n" opening the next completes CRLF
  private type = "";
  private data: string[] = [];

  /** `lastEventId` of the previous connection: ids persist across reconnects. */
  constructor(lastEventId = "") {
    this.lastEventId = lastEventId;
  }

  /** Parse the next chunk; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (this.skipLf && text.startsWith("\n")) text = text.slice(1);
    this.skipLf = false;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.startsWith("\uFEFF")) text = text.slice(1);
    }
    this.buffer += text;
    const out: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== "\n" && c !== "\r") continue;
      this.line(this.buffer.slice(start, i), out);
      if (c === "\r") {
        if (i + 1 === this.buffer.length) this.skipLf = true;
        else if (this.buffer[i + 1] === "\n") i++;
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === "") {
      this.dispatch(out);
      return;
    }
    if (line.startsWith(":")) return; // a comment (keep-alive)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.type = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default: // unknown fields are ignored
    }
  }

  private dispatch(out: SseEvent[]): void {
    if (this.data.length > 0) {
      out.push({ type: this.type || "message", data: this.data.join("\n"), lastEventId: this.lastEventId });
    }
    this.type = "";
    this.data = [];
  }
}
