import { SseParser, type SseEvent } from "./sse";

/** Feed `chunks` one by one and collect every event. */
function parse(chunks: string[], parser = new SseParser()): SseEvent[] {
  return chunks.flatMap((c) => parser.push(c));
}

/** Every way of cutting `text` in two. */
function splits(text: string): string[][] {
  return Array.from({ length: text.length + 1 }, (_, i) => [text.slice(0, i), text.slice(i)]);
}

describe("SseParser", () => {
  const frame = 'event: anomaly\nid: 4.1.2.3\ndata: {"id":4}\n\n';

  it("parses a named event with an id", () => {
    expect(parse([frame])).toEqual([{ type: "anomaly", data: '{"id":4}', lastEventId: "4.1.2.3" }]);
  });

  it("gives the same events wherever a chunk boundary falls, even inside a field name or value", () => {
    const text = `retry: 2000\n: connected\n\n${frame}data: a\r\ndata: b\r\n\r\n`;
    const whole = parse([text]);
    expect(whole).toHaveLength(2);
    for (const parts of splits(text)) expect(parse(parts)).toEqual(whole);
    expect(parse([...text])).toEqual(whole); // one character at a time
  });

  it("joins multi-line data with newlines and defaults the type to message", () => {
    expect(parse(["data: first\ndata:second\ndata\ndata:  indented\n\n"])).toEqual([
      { type: "message", data: "first\nsecond\n\n indented", lastEventId: "" },
    ]);
  });

  it("accepts LF, CRLF and lone CR line endings, including CRLF split across chunks", () => {
    const expected = [{ type: "alarm", data: "x", lastEventId: "" }];
    expect(parse(["event: alarm\ndata: x\n\n"])).toEqual(expected);
    expect(parse(["event: alarm\r\ndata: x\r\n\r\n"])).toEqual(expected);
    expect(parse(["event: alarm\rdata: x\r\r"])).toEqual(expected);
    expect(parse(["event: alarm\r", "\ndata: x\r", "\n\r", "\n"])).toEqual(expected);
  });

  it("ignores comments and keep-alives, and does not dispatch an event without data", () => {
    expect(parse([": keepalive\n\n", "event: suggestion\n\n", ":x\ndata: y\n\n"])).toEqual([
      { type: "message", data: "y", lastEventId: "" },
    ]);
  });

  it("keeps the last id for later events and across a reconnect; ignores ids with NUL", () => {
    const parser = new SseParser();
    expect(parse(["id: 7\ndata: a\n\ndata: b\n\nid: bad\0\ndata: c\n\n"], parser).map((e) => e.lastEventId))
      .toEqual(["7", "7", "7"]);
    expect(parser.lastEventId).toBe("7");
    expect(parse(["data: d\n\n"], new SseParser(parser.lastEventId))[0]?.lastEventId).toBe("7");
    expect(parse(["id\ndata: e\n\n"], new SseParser("7"))[0]?.lastEventId).toBe(""); // an empty id resets
  });

  it("reads retry only when it is all digits", () => {
    const parser = new SseParser();
    parse(["retry: 1500\n\n"], parser);
    expect(parser.retryMs).toBe(1500);
    parse(["retry: 2s\nretry: -1\nretry:\n\n"], parser);
    expect(parser.retryMs).toBe(1500);
  });

  it("drops an unfinished event at the end and a leading byte-order mark", () => {
    expect(parse(["\uFEFFdata: a\n\ndata: unfinished\n"])).toEqual([{ type: "message", data: "a", lastEventId: "" }]);
  });

  it("resets the event type after each event and ignores unknown fields", () => {
    expect(parse(["event: anomaly\nfoo: bar\ndata: 1\n\ndata: 2\n\n"]).map((e) => e.type)).toEqual(["anomaly", "message"]);
  });
});
