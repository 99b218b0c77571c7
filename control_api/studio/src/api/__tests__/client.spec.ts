import { afterEach, describe, expect, it, vi } from "vitest";

type Call = { url: string; init: RequestInit };

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function stream(chunks: string[]): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

/** A fresh client module (its token lives in module state) over a scripted fetch. */
async function setup(answers: ((call: Call) => Response)[]) {
  vi.resetModules();
  const calls: Call[] = [];
  vi.stubGlobal("fetch", (url: string, init: RequestInit = {}) => {
    const call = { url, init };
    calls.push(call);
    const answer = answers.shift();
    if (!answer) throw new Error(`unexpected fetch ${url}`);
    return Promise.resolve(answer(call));
  });
  const client = await import("../client");
  return { client, calls };
}

const auth = (call: Call) => new Headers(call.init.headers).get("Authorization");
const token = { access_token: "A1", token_type: "bearer", expires_in: 3600 };

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("api client", () => {
  it("logs in with a form body and sends the token afterwards, from memory only", async () => {
    const { client, calls } = await setup([() => json(200, token), () => json(200, { balance: 5 })]);
    await client.login("ada", "correct horse battery");
    expect(calls[0].url).toBe("/api/v1/auth/login");
    expect(String(calls[0].init.body)).toBe("username=ada&password=correct+horse+battery");
    expect(calls[0].init.credentials).toBe("same-origin");
    await client.getCredits();
    expect(auth(calls[1])).toBe("Bearer A1");
    expect(JSON.stringify({ ...localStorage })).not.toContain("A1");
  });

  it("on a 401 refreshes once and repeats the call", async () => {
    const { client, calls } = await setup([
      () => json(401, { title: "Unauthorized", status: 401, detail: "expired" }),
      () => json(200, { ...token, access_token: "A2" }),
      () => json(200, { id: 1, username: "ada" }),
    ]);
    const me = await client.getMe();
    expect(me).toEqual({ id: 1, username: "ada" });
    expect(calls.map((c) => c.url)).toEqual(["/api/v1/users/me", "/api/v1/auth/refresh", "/api/v1/users/me"]);
    expect(auth(calls[2])).toBe("Bearer A2");
  });

  it("goes to sign-in when the refresh fails, and shows the problem's detail", async () => {
    const { client } = await setup([
      () => json(401, { title: "Unauthorized", status: 401, detail: "Not signed in" }),
      () => json(401, { title: "Unauthorized", status: 401, detail: "no session" }),
    ]);
    const gone = vi.fn();
    client.onUnauthorized(gone);
    await expect(client.getMe()).rejects.toThrow("Not signed in");
    expect(gone).toHaveBeenCalledOnce();
  });

  it("reports a register error's detail", async () => {
    const { client } = await setup([() => json(422, { title: "Weak password", status: 422, detail: "password is too common" })]);
    await expect(client.register({ username: "ada", email: "a@b.co", password: "password123" })).rejects.toMatchObject({
      status: 422,
      message: "password is too common",
    });
  });

  it("follows an event stream and reconnects with Last-Event-ID after a drop", async () => {
    const { client, calls } = await setup([
      () => stream(['id: 1-0\nevent: stage\ndata: {"stage":"tts"', ',"done":1,"total":4}\n\n: keep-alive\n\nretry: 1\n\n']),
      () => stream(['id: 2-0\nevent: status\ndata: {"status_value":"completed"}\n\n']),
    ]);
    const events: string[] = [];
    await client.followEvents("/api/v1/tasks/x/events", {
      onEvent: (e) => events.push(`${e.event}:${e.data}`),
      isFinal: (e) => e.event === "status",
      signal: new AbortController().signal,
    });
    expect(events).toEqual(['stage:{"stage":"tts","done":1,"total":4}', 'status:{"status_value":"completed"}']);
    expect(new Headers(calls[0].init.headers).get("Last-Event-ID")).toBeNull();
    expect(new Headers(calls[1].init.headers).get("Last-Event-ID")).toBe("1-0");
  });
});
