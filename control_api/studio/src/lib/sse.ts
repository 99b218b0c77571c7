// A Server-Sent Events parser (https://html.spec.whatwg.org/multipage/server-sent-events.html),
// fed with text chunks as they arrive: chunks may split a line (or a CRLF) anywhere.

export interface SseEvent {
  /** `event:` field; "message" when absent */
  event: string;
  /** the `data:` lines joined with "\n" */
  data: string;
  /** the last event id seen so far (the `id:` of this event or of an earlier one) */
  id: string;
}

export class SseParser {
  /** the id to resume from (`Last-Event-ID`) */
  lastEventId = "";
  /** reconnection delay in ms, when the server sent `retry:` */
  retry: number | null = null;

  private buffer = "";
  private data: string[] = [];
  private eventType = "";
  private sawData = false;

  /** Feed one chunk; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== "\n" && c !== "\r") continue;
      if (c === "\r" && i === this.buffer.length - 1) break; // a CR at the end: wait, a LF may follow
      const line = this.buffer.slice(start, i);
      if (c === "\r" && this.buffer[i + 1] === "\n") i++;
      start = i + 1;
      const event = this.line(line);
      if (event) events.push(event);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  /** The stream ended: an unterminated event is discarded, as the spec says. */
  end(): void {
    this.buffer = "";
    this.reset();
  }

  private line(line: string): SseEvent | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null; // a comment: a keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.data.push(value);
        this.sawData = true;
        break;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
    return null;
  }

  private dispatch(): SseEvent | null {
    if (!this.sawData) {
      this.reset();
      return null;
    }
    const event = { event: this.eventType || "message", data: this.data.join("\n"), id: this.lastEventId };
    this.reset();
    return event;
  }

  private reset(): void {
    this.data = [];
    this.eventType = "";
    this.sawData = false;
  }
}

/** Parse a whole SSE text at once (tests, replays). */
export function parseSse(text: string): SseEvent[] {
  const parser = new SseParser();
  return parser.push(text);
}
