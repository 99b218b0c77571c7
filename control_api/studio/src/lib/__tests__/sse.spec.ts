import { describe, expect, it } from "vitest";
import { SseParser, parseSse } from "../sse";

describe("SseParser", () => {
  it("parses events with ids and JSON data", () => {
    const events = parseSse('id: 1-0\nevent: status\ndata: {"status_value":"running"}\n\n');
    expect(events).toEqual([{ id: "1-0", event: "status", data: '{"status_value":"running"}' }]);
  });

  it("handles chunks split mid-line and mid-CRLF", () => {
    const parser = new SseParser();
    const text = 'id: 7-1\r\nevent: stage\r\ndata: {"stage":"tts","done":3,"total":12}\r\n\r\nevent: progress\r\ndata: {}\r\n\r\n';
    const out = [];
    for (let i = 0; i < text.length; i += 5) out.push(...parser.push(text.slice(i, i + 5)));
    expect(out.map((e) => e.event)).toEqual(["stage", "progress"]);
    expect(JSON.parse(out[0].data)).toEqual({ stage: "tts", done: 3, total: 12 });
    expect(out[1].id).toBe("7-1"); // the last id carries over
    expect(parser.lastEventId).toBe("7-1");
  });

  it("does not emit before the blank line that ends an event", () => {
    const parser = new SseParser();
    expect(parser.push("event: status\ndata: {\"a\":")).toEqual([]);
    expect(parser.push("1}\n")).toEqual([]);
    expect(parser.push("\n")).toEqual([{ event: "status", data: '{"a":1}', id: "" }]);
  });

  it("ignores comments (keep-alives) and joins multi-line data", () => {
    const events = parseSse(": keep-alive\n\ndata: first\ndata: second\n: note\ndata:third\n\n");
    expect(events).toEqual([{ event: "message", data: "first\nsecond\nthird", id: "" }]);
  });

  it("reads retry and ignores events without data", () => {
    const parser = new SseParser();
    expect(parser.push("retry: 2500\n: the store is unreachable\n\nid: 9-9\nevent: status\n\n")).toEqual([]);
    expect(parser.retry).toBe(2500);
    expect(parser.lastEventId).toBe("9-9");
    parser.push("retry: soon\n\n");
    expect(parser.retry).toBe(2500);
  });

  it("drops an unterminated event at the end of the stream", () => {
    const parser = new SseParser();
    parser.push("data: half");
    parser.end();
    expect(parser.push("data: whole\n\n")).toEqual([{ event: "message", data: "whole", id: "" }]);
  });
});
