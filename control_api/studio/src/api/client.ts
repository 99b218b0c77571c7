// The one HTTP client of the studio: every call to the API goes through here.
// The access token lives in this module only (memory), never in storage; the refresh token is an
// HttpOnly cookie the server sets, sent with `credentials: "same-origin"`.
import { SseParser, type SseEvent } from "../lib/sse";
import type {
  Adaptation,
  AdaptationCreate,
  ConversationCreate,
  ConversationDetail,
  ConversationList,
  Credits,
  Problem,
  Script,
  ScriptCheck,
  ScriptCheckRequest,
  ScriptCreate,
  ScriptList,
  TaskAccepted,
  TaskCreate,
  TaskDetail,
  TaskEstimate,
  TaskList,
  TemplateDetail,
  TemplateSummary,
  Token,
  TransactionList,
  User,
  UserRegister,
  Voice,
} from "./types";

export const API = "/api/v1";

let accessToken: string | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | null = null;
let refreshing: Promise<boolean> | null = null;
let unauthorized: (() => void) | null = null;

/** An error answer of the API, with its problem+json body. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(status: number, problem: Problem) {
    super(problemText(status, problem));
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }
}

function problemText(status: number, problem: Problem): string {
  if (typeof problem.detail === "string" && problem.detail) return problem.detail;
  if (problem.title) return problem.title;
  return `HTTP ${status}`;
}

/** The message to show for any error thrown by this module. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Called when the session is gone for good (a 401 that a refresh could not fix). */
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

export function isSignedIn(): boolean {
  return accessToken !== null;
}

function setToken(token: Token | null): void {
  accessToken = token ? token.access_token : null;
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = null;
  if (token && token.expires_in > 90) {
    // refresh a minute before it expires, so long renders keep their live progress
    refreshTimer = setTimeout(() => void refresh(), (token.expires_in - 60) * 1000);
  }
}

interface SendOptions {
  /** false for the auth endpoints: their 401 is an answer, not an expired session */
  auth?: boolean;
}

async function send(url: string, init: RequestInit = {}, options: SendOptions = {}): Promise<Response> {
  const auth = options.auth ?? true;
  const attempt = () => {
    const headers = new Headers(init.headers);
    if (auth && accessToken) headers.set("Authorization", `Bearer ${accessToken}`);
    return fetch(url, { ...init, headers, credentials: "same-origin" });
  };
  const response = await attempt();
  if (response.status !== 401 || !auth) return response;
  if (await refresh()) return attempt();
  unauthorized?.();
  return response;
}

async function fail(response: Response): Promise<never> {
  let problem: Problem = { status: response.status, title: response.statusText };
  try {
    const text = await response.text();
    if (text) {
      const body: unknown = JSON.parse(text);
      if (body && typeof body === "object") problem = body as Problem;
    }
  } catch {
    /* not JSON: keep the status line */
  }
  throw new ApiError(response.status, problem);
}

type Query = Record<string, string | number | boolean | null | undefined>;

function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

interface RequestOptions extends SendOptions {
  json?: unknown;
  form?: Record<string, string>;
  query?: Query;
}

async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const init: RequestInit = { method, headers: { Accept: "application/json, application/problem+json" } };
  if (options.json !== undefined) {
    init.body = JSON.stringify(options.json);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  } else if (options.form) {
    init.body = new URLSearchParams(options.form);
  }
  const response = await send(withQuery(`${API}${path}`, options.query), init, options);
  if (!response.ok) return fail(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

// ---- auth ----

export async function login(username: string, password: string): Promise<Token> {
  const token = await request<Token>("POST", "/auth/login", { form: { username, password }, auth: false });
  setToken(token);
  return token;
}

export function register(body: UserRegister): Promise<User> {
  return request<User>("POST", "/auth/register", { json: body, auth: false });
}

/** Exchange the refresh cookie for a new access token; false when there is no session. */
export function refresh(): Promise<boolean> {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const token = await request<Token>("POST", "/auth/refresh", { auth: false });
        setToken(token);
        return true;
      } catch {
        setToken(null);
        return false;
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

export async function logout(): Promise<void> {
  try {
    await request<void>("POST", "/auth/logout", { auth: false });
  } finally {
    setToken(null);
  }
}

// ---- account ----

export const getMe = () => request<User>("GET", "/users/me");
export const getCredits = () => request<Credits>("GET", "/credits");
export const listTransactions = (limit: number, offset: number) =>
  request<TransactionList>("GET", "/credits/transactions", { query: { limit, offset } });

// ---- scripts ----

export const listScripts = (limit = 100, offset = 0) =>
  request<ScriptList>("GET", "/scripts", { query: { limit, offset } });
export const getScript = (id: string) => request<Script>("GET", `/scripts/${encodeURIComponent(id)}`);
export const createScript = (body: ScriptCreate) => request<Script>("POST", "/scripts", { json: body });
export const updateScript = (id: string, body: ScriptCreate) =>
  request<Script>("PUT", `/scripts/${encodeURIComponent(id)}`, { json: body });
export const deleteScript = (id: string) => request<void>("DELETE", `/scripts/${encodeURIComponent(id)}`);
export const checkScript = (body: ScriptCheckRequest) => request<ScriptCheck>("POST", "/scripts/check", { json: body });

// ---- voices and templates ----

export const listVoices = () => request<Voice[]>("GET", "/voices");
export const listTemplates = () => request<TemplateSummary[]>("GET", "/templates");
export const getTemplate = (name: string) => request<TemplateDetail>("GET", `/templates/${encodeURIComponent(name)}`);

// ---- tasks ----

export const estimateTask = (body: TaskCreate) => request<TaskEstimate>("POST", "/tasks/estimate", { json: body });
export const createTask = (body: TaskCreate) => request<TaskAccepted>("POST", "/tasks", { json: body });
export const listTasks = (query: { script_id?: string; limit?: number; offset?: number }) =>
  request<TaskList>("GET", "/tasks", { query });
export const getTask = (id: string) => request<TaskDetail>("GET", `/tasks/${encodeURIComponent(id)}`);
export const cancelTask = (id: string) => request<TaskDetail>("POST", `/tasks/${encodeURIComponent(id)}/cancel`);

// ---- the writer: conversations with the language model, and adaptations of prose ----

const conversation = (id: string) => `/conversations/${encodeURIComponent(id)}`;
export const listConversations = (limit = 20, offset = 0) =>
  request<ConversationList>("GET", "/conversations", { query: { limit, offset } });
export const getConversation = (id: string) => request<ConversationDetail>("GET", conversation(id));
export const resumeConversation = (id: string) => request<ConversationDetail>("PUT", `${conversation(id)}/resume`);
export const finalizeConversation = (id: string) => request<Script>("POST", `${conversation(id)}/finalize`);
export const adapt = (body: AdaptationCreate) => request<Adaptation>("POST", "/adaptations", { json: body });

/** One writer round, streamed: `delta` events as the model writes, `repairing`, then `draft` (the
 * conversation) or `error`. Resolves with the conversation. */
async function writerRound(path: string, body: unknown, onEvent: (event: SseEvent) => void,
                           signal?: AbortSignal): Promise<ConversationDetail> {
  const response = await send(`${API}${path}`, {
    method: "POST", body: JSON.stringify(body), signal, cache: "no-store",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream, application/problem+json" },
  });
  if (!response.ok || !response.body) return fail(response);
  const parser = new SseParser();
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const event of parser.push(decoder.decode(value, { stream: true }))) {
      onEvent(event);
      if (event.event === "draft") return JSON.parse(event.data) as ConversationDetail;
      if (event.event === "error") {
        const detail = (JSON.parse(event.data) as { detail?: string }).detail ?? "";
        throw new ApiError(503, { status: 503, title: "Service Unavailable", detail });
      }
    }
  }
  throw new ApiError(502, { status: 502, title: "Bad Gateway", detail: "the stream ended without a draft" });
}

export const startConversation = (body: ConversationCreate, onEvent: (event: SseEvent) => void, signal?: AbortSignal) =>
  writerRound("/conversations", body, onEvent, signal);
export const reviseConversation = (id: string, content: string, onEvent: (event: SseEvent) => void,
                                   signal?: AbortSignal) =>
  writerRound(`${conversation(id)}/messages`, { content }, onEvent, signal);

// ---- files behind the Authorization header (audio, subtitles, timeline, voice previews) ----

function absolute(url: string): string {
  return url.startsWith("/") || /^https?:/.test(url) ? url : `${API}/${url}`;
}

export async function fetchBlob(url: string): Promise<Blob> {
  const response = await send(absolute(url));
  if (!response.ok) return fail(response);
  return response.blob();
}

export async function fetchJson<T>(url: string): Promise<T> {
  const response = await send(absolute(url), { headers: { Accept: "application/json" } });
  if (!response.ok) return fail(response);
  return (await response.json()) as T;
}

// ---- live progress: SSE read with fetch(), since EventSource cannot send the Authorization header ----

export interface FollowOptions {
  onEvent: (event: SseEvent) => void;
  /** true when an event ends the stream for good (the final status) */
  isFinal: (event: SseEvent) => boolean;
  signal: AbortSignal;
  /** Last-Event-ID to resume from */
  lastEventId?: string;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });

/** Follow an event stream until a final event, reconnecting with Last-Event-ID after a drop. */
export async function followEvents(url: string, options: FollowOptions): Promise<void> {
  const parser = new SseParser();
  parser.lastEventId = options.lastEventId ?? "";
  let failures = 0;
  while (!options.signal.aborted) {
    let finished = false;
    try {
      const headers: Record<string, string> = { Accept: "text/event-stream" };
      if (parser.lastEventId) headers["Last-Event-ID"] = parser.lastEventId;
      const response = await send(absolute(url), { headers, signal: options.signal, cache: "no-store" });
      if (response.status === 404 || response.status === 401 || response.status === 403) return fail(response);
      if (!response.ok || !response.body) throw new ApiError(response.status, { status: response.status });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        failures = 0;
        for (const event of parser.push(decoder.decode(value, { stream: true }))) {
          options.onEvent(event);
          if (options.isFinal(event)) finished = true;
        }
        if (finished) {
          await reader.cancel().catch(() => undefined);
          break;
        }
      }
      parser.end();
    } catch (error) {
      if (options.signal.aborted) return;
      if (error instanceof ApiError && [401, 403, 404].includes(error.status)) throw error;
      failures++;
    }
    if (finished) return;
    await sleep(Math.min((parser.retry ?? 1000) * 2 ** Math.min(failures, 4), 10_000), options.signal);
  }
}
