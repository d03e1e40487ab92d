// A minimal MCP Streamable HTTP client (MCP 2025-11-25, basic/transports "Streamable HTTP"):
// one POST per JSON-RPC message, the answer read from either an application/json body or a
// text/event-stream body. It keeps no connection, stream or timer between operations, so the
// session Durable Object can hibernate at any point; everything it needs is in `Exchange`. The one
// stream it opens to be held, `openEventStream`, belongs to an upstream listener
// (upstream-listener.ts), which holds it only while an agent is subscribed. The
// same client speaks MCP 2026-07-28 (basic/transports/streamable-http) for modern upstreams: no
// session, per-request headers, and no answers to requests an upstream sends on a stream.
//
// Why not the SDK's Client + StreamableHTTPClientTransport: (1) the bearer token changes per
// call (per-tool exchanged tokens) and calls run concurrently, but the transport's headers are
// fixed per transport and RequestOptions carries no headers; (2) after initialize the transport
// opens a standalone GET stream with reconnect timers, which a hibernating Durable Object must
// not hold; (3) an SSE answer it cannot parse, or a stream that ends without the response, is
// only reported to `onerror` and the request then waits for its timeout instead of failing;
// (4) its result schemas strip fields they do not know (e.g. of a newer revision's tools),
// while the gateway must pass upstream results through unchanged.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { z } from "zod";
import { readAtMost } from "../../core/read-at-most.js";
import { MAX_UPSTREAM_JSON_DEPTH, nestsDeeperThan } from "../mcp/rpc-limits.js";
import { RequestCancelled, UpstreamCancelled, UpstreamError } from "./upstream-error.js";
import { ListenUnsupported } from "./upstream-listener.js";

/**
 * Ceiling on what one answer may make the worker buffer (a JSON body, or an event stream up to
 * the response), against a broken or hostile upstream. Generous: results may embed images.
 */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** Everything one operation needs to talk to the upstream. */
export interface Exchange {
  app: string;
  url: string;
  /** `Bearer ${token}` is the only Authorization ever sent; none when undefined. */
  token: string | undefined;
  traceparent: string | undefined;
  signal: AbortSignal;
  /** For the message of the error raised when `signal` aborts. */
  timeoutMs: number;
  /** The upstream's Mcp-Session-Id; absent before initialize and for stateless upstreams. */
  sessionId?: string;
  /** Absent only on initialize (MCP 2025-11-25 transports, "Protocol Version Header"). */
  protocolVersion?: string;
  /**
   * A 2026-07-28 exchange: the upstream may not send requests on a response stream, and a client
   * may not answer with responses (MCP 2026-07-28 basic/transports/streamable-http, "Receiving
   * Messages"), so a request it sends anyway is ignored rather than answered.
   */
  modern?: boolean;
  /** Notifications the upstream sends on a response stream (progress, list_changed, ...). */
  onNotification?: (method: string, params: unknown) => void;
  /**
   * Requests the upstream sends on a response stream (sampling, elicitation, roots), relayed to
   * the agent; without it they are refused. Ping is always answered here.
   */
  onServerRequest?: ServerRequestRelay;
}

export type RelayedAnswer =
  { result: Record<string, unknown> } | { error: { code: number; message: string; data?: unknown } };

/** Relays one request to the agent and resolves to its answer; rejects when `signal` aborts first. */
export type ServerRequestRelay = (method: string, params: unknown, signal: AbortSignal) => Promise<RelayedAnswer>;

export type RpcOutcome =
  | { result: Record<string, unknown>; status: number; sessionId?: string }
  | { error: { code: number; message: string; data?: unknown }; status: number; sessionId?: string };

/**
 * The upstream answered 404 to a request carrying a session id: the session is gone (upstream
 * restarted or expired it) and the client MUST start a new one with initialize (MCP 2025-11-25
 * transports, "Session Management" item 4). Also raised for the 400 that servers built on the
 * MCP SDKs answer instead when they do not know the session (see LOST_SESSION).
 */
export class UpstreamSessionExpired extends Error {
  constructor(
    readonly sessionId: string,
    /** The HTTP status that said so: 404, or an SDK server's 400. */
    readonly status = 404,
  ) {
    super("upstream session expired");
    this.name = "UpstreamSessionExpired";
  }
}

/**
 * The JSON-RPC error messages of a 400 that mean "no such session" rather than a bad request:
 * an SDK server keeping one transport per process answers "Bad Request: Server not initialized"
 * once it restarted, and the SDKs' example servers "Bad Request: No valid session ID provided".
 * Only a request that carried a session id is read this way, so a 400 to initialize stays an error.
 */
const LOST_SESSION = /server not initiali[sz]ed|no valid session|session not found|unknown session|invalid session/i;

const requestId = z.union([z.string(), z.number()]);
const jsonRpcVersion = z.literal("2.0");
const incomingMessage = z.union([
  z.object({ jsonrpc: jsonRpcVersion, id: requestId, result: z.record(z.string(), z.unknown()) }).strict(),
  z
    .object({
      jsonrpc: jsonRpcVersion,
      id: requestId.nullable().optional(),
      error: z.object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() }).loose(),
    })
    .strict(),
  z.object({ jsonrpc: jsonRpcVersion, id: requestId, method: z.string(), params: z.unknown().optional() }).strict(),
  z.object({ jsonrpc: jsonRpcVersion, method: z.string(), params: z.unknown().optional() }).strict(),
]);
type IncomingMessage = z.output<typeof incomingMessage>;
type Answer = Extract<IncomingMessage, { result: unknown }> | Extract<IncomingMessage, { error: unknown }>;

/**
 * Sends one request and returns the upstream's response to it. When the exchange's signal aborts
 * first (the agent cancelled, or the app's timeout passed), the request's stream is closed, which
 * is how a 2026-07-28 server learns of it (basic/transports/streamable-http, "Cancellation"); a
 * 2025-era server is sent `notifications/cancelled` naming the request as well (2025-11-25
 * basic/utilities/cancellation; basic/lifecycle, "Timeouts"), except for `initialize`, which
 * may not be cancelled.
 */
export async function sendRequest(
  exchange: Exchange,
  method: string,
  params?: Record<string, unknown>,
  /** Headers of this request alone (the request metadata headers of MCP 2026-07-28). */
  headers?: Record<string, string>,
): Promise<RpcOutcome> {
  const id = crypto.randomUUID(); // unique across processes sharing one upstream session
  try {
    return await guard(exchange, async () => {
      const response = await post(exchange, { jsonrpc: "2.0", id, method, ...(params ? { params } : {}) }, headers);
      const sessionId = response.headers.get("Mcp-Session-Id") ?? undefined;
      const answer = await readAnswer(exchange, response, id);
      return "result" in answer
        ? { result: answer.result, status: response.status, sessionId }
        : { error: answer.error, status: response.status, sessionId };
    });
  } catch (err) {
    if (exchange.signal.aborted && !exchange.modern && method !== "initialize") void cancelUpstream(exchange, id);
    throw err;
  }
}

/** How long telling a 2025-era upstream of a cancellation may take: a notification, answered 202 at once. */
const CANCEL_NOTICE_MS = 5_000;

/**
 * `notifications/cancelled` for request `id` on the exchange's upstream session, on its own
 * deadline (the exchange's signal has aborted). Best effort: the upstream may have answered
 * meanwhile, which the spec allows for ("may arrive after processing completed").
 */
async function cancelUpstream(exchange: Exchange, id: string): Promise<void> {
  const reason = exchange.signal.reason instanceof RequestCancelled ? exchange.signal.reason.message : "timeout";
  const notice: Exchange = { ...exchange, signal: AbortSignal.timeout(CANCEL_NOTICE_MS) };
  await sendNotification(notice, "notifications/cancelled", { requestId: id, reason }).catch(() => undefined);
}

/** Sends one notification; the upstream answers 202 Accepted with no body. */
export async function sendNotification(
  exchange: Exchange,
  method: string,
  params?: Record<string, unknown>,
): Promise<void> {
  await guard(exchange, async () => {
    const response = await post(exchange, { jsonrpc: "2.0", method, ...(params ? { params } : {}) });
    await response.body?.cancel();
  });
}

/**
 * Ends the upstream session (transports, "Session Management" item 5: clients SHOULD send
 * DELETE when they no longer need it). 405 means the upstream does not allow it; both are fine.
 */
export async function deleteSession(exchange: Exchange): Promise<void> {
  if (!exchange.sessionId) return;
  const headers = new Headers({ "Mcp-Session-Id": exchange.sessionId });
  if (exchange.token !== undefined) headers.set("Authorization", `Bearer ${exchange.token}`);
  if (exchange.protocolVersion) headers.set("MCP-Protocol-Version", exchange.protocolVersion);
  if (exchange.traceparent) headers.set("traceparent", exchange.traceparent);
  await guard(exchange, async () => {
    const response = await fetch(exchange.url, {
      method: "DELETE",
      headers,
      signal: exchange.signal,
      redirect: "manual",
    });
    await response.body?.cancel();
  });
}

/** Turns whatever went wrong into an UpstreamError that names the cause but no token. */
async function guard<T>(exchange: Exchange, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    if (err instanceof UpstreamError || err instanceof UpstreamSessionExpired || err instanceof ListenUnsupported)
      throw err;
    if (exchange.signal.aborted) {
      if (exchange.signal.reason instanceof RequestCancelled) throw new UpstreamCancelled(exchange.app);
      throw new UpstreamError(exchange.app, `upstream did not answer within the timeout of ${exchange.timeoutMs} ms`);
    }
    throw new UpstreamError(
      exchange.app,
      redact(exchange, `upstream ${describeUrl(exchange.url)} is unreachable: ${describeError(err)}`),
    );
  }
}

async function post(exchange: Exchange, message: unknown, extra: Record<string, string> = {}): Promise<Response> {
  const headers = new Headers({
    ...extra,
    "Content-Type": "application/json",
    // Transports, "Sending Messages to the Server": the client MUST accept both.
    Accept: "application/json, text/event-stream",
  });
  if (exchange.token !== undefined) headers.set("Authorization", `Bearer ${exchange.token}`);
  if (exchange.traceparent) headers.set("traceparent", exchange.traceparent);
  if (exchange.sessionId) headers.set("Mcp-Session-Id", exchange.sessionId);
  if (exchange.protocolVersion) headers.set("MCP-Protocol-Version", exchange.protocolVersion);
  // Redirects are not followed: the bearer token must reach the configured URL and nothing else.
  const response = await fetch(exchange.url, {
    method: "POST",
    headers,
    body: JSON.stringify(message),
    signal: exchange.signal,
    redirect: "manual",
  });
  return accepted(exchange, response);
}

/**
 * Opens a stream the upstream holds open for what it sends on its own initiative: the GET stream
 * of a 2025-era session (MCP 2025-11-25 basic/transports, "Listening for Messages from the
 * Server"), or, with `message`, a POSTed 2026-07-28 `subscriptions/listen` request. The upstream
 * has `exchange.timeoutMs` to answer with its headers; after that only `exchange.signal` ends the
 * stream. An upstream without such a stream (405) raises ListenUnsupported; a forgotten session
 * UpstreamSessionExpired, as for requests.
 */
export async function openEventStream(
  exchange: Exchange,
  options: { message?: unknown; headers?: Record<string, string>; lastEventId?: string } = {},
): Promise<Response> {
  const answered = new AbortController();
  const timer = setTimeout(() => answered.abort(), exchange.timeoutMs);
  const opening = { ...exchange, signal: AbortSignal.any([exchange.signal, answered.signal]) };
  try {
    return await guard(opening, async () => {
      const headers = new Headers({ ...options.headers, Accept: "text/event-stream" });
      if (options.message !== undefined) {
        headers.set("Content-Type", "application/json");
        // A 2026-07-28 server may answer an error as JSON; it is read as any refusal.
        headers.set("Accept", "application/json, text/event-stream");
      }
      if (exchange.token !== undefined) headers.set("Authorization", `Bearer ${exchange.token}`);
      if (exchange.traceparent) headers.set("traceparent", exchange.traceparent);
      if (exchange.sessionId) headers.set("Mcp-Session-Id", exchange.sessionId);
      if (exchange.protocolVersion) headers.set("MCP-Protocol-Version", exchange.protocolVersion);
      if (options.lastEventId !== undefined) headers.set("Last-Event-ID", options.lastEventId);
      const response = await fetch(exchange.url, {
        method: options.message === undefined ? "GET" : "POST",
        headers,
        ...(options.message === undefined ? {} : { body: JSON.stringify(options.message) }),
        signal: opening.signal,
        redirect: "manual",
      });
      if (response.status === 405) {
        await response.body?.cancel();
        throw new ListenUnsupported(exchange.app);
      }
      await accepted(opening, response);
      const contentType = (response.headers.get("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
      if (contentType === "text/event-stream") return response;
      // A JSON answer to a listen request is its refusal (a subscription limit, an unknown method).
      const { detail } = await errorDetail(response);
      throw garbage(exchange, `Content-Type ${contentType || "(none)"} instead of an event stream${detail}`);
    });
  } finally {
    clearTimeout(timer);
  }
}

/** The response when its status is a success; otherwise the error it stands for. */
async function accepted(exchange: Exchange, response: Response): Promise<Response> {
  if (response.ok) return response;
  if (response.status === 404 && exchange.sessionId) {
    await response.body?.cancel();
    throw new UpstreamSessionExpired(exchange.sessionId);
  }
  const { detail, rpcError } = await errorDetail(response);
  if (response.status === 400 && exchange.sessionId && LOST_SESSION.test(detail))
    throw new UpstreamSessionExpired(exchange.sessionId, 400);
  throw new UpstreamError(
    exchange.app,
    redact(exchange, `upstream answered HTTP ${response.status}${detail}`),
    response.status,
    rpcError,
  );
}

/** The response with our id, from a JSON body or from the events of an SSE body. */
async function readAnswer(exchange: Exchange, response: Response, id: string): Promise<Answer> {
  const contentType = (response.headers.get("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (contentType === "application/json") {
    const bytes = await readAtMost(response.body, MAX_ANSWER_BYTES);
    if (!bytes) throw tooLarge(exchange);
    const text = new TextDecoder().decode(bytes);
    if (nestsDeeperThan(text, MAX_UPSTREAM_JSON_DEPTH))
      throw garbage(exchange, `JSON nested deeper than ${MAX_UPSTREAM_JSON_DEPTH} levels`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw garbage(exchange, "a body that is not JSON");
    }
    for (const item of Array.isArray(body) ? body : [body]) {
      const message = incomingMessage.safeParse(item);
      if (message.success && isAnswerTo(message.data, id)) return message.data;
    }
    throw garbage(exchange, "JSON that is not a JSON-RPC response to the request");
  }
  if (contentType === "text/event-stream" && response.body) {
    for await (const event of sseEvents(response.body, MAX_ANSWER_BYTES, () => tooLarge(exchange))) {
      // Only message events carry JSON-RPC; an event with empty data is the priming event a
      // resumable server sends first (transports, "Sending Messages to the Server" item 6).
      if ((event.event ?? "message") !== "message" || event.data === "") continue;
      if (nestsDeeperThan(event.data, MAX_UPSTREAM_JSON_DEPTH))
        throw garbage(exchange, `an event nested deeper than ${MAX_UPSTREAM_JSON_DEPTH} levels`);
      let json: unknown;
      try {
        json = JSON.parse(event.data);
      } catch {
        throw garbage(exchange, "an event that is not JSON");
      }
      const parsed = incomingMessage.safeParse(json);
      if (!parsed.success) throw garbage(exchange, "an event that is not a JSON-RPC message");
      const message = parsed.data;
      if (isAnswerTo(message, id)) return message;
      if ("method" in message && "id" in message) {
        if (!exchange.modern) await answerServerRequest(exchange, message.id, message.method, message.params);
      } else if ("method" in message) exchange.onNotification?.(message.method, message.params);
    }
    throw garbage(exchange, "an event stream that ended before the response");
  }
  await response.body?.cancel();
  if (response.status === 202) throw garbage(exchange, "202 Accepted to a request");
  throw garbage(exchange, `Content-Type ${contentType || "(none)"} instead of application/json or text/event-stream`);
}

/** JSON-RPC 2.0 §5: an error about a request whose id could not be read has a null id. */
function isAnswerTo(message: IncomingMessage, id: string): message is Answer {
  if ("result" in message) return message.id === id;
  return "error" in message && (message.id === id || message.id == null);
}

/**
 * The upstream may send requests on a response stream. Ping is answered here (basic/utilities/
 * ping: MUST respond promptly); sampling, elicitation and roots go to the agent when the
 * operation can relay them, and are refused otherwise, so the upstream is never left waiting.
 */
async function answerServerRequest(
  exchange: Exchange,
  id: string | number,
  method: string,
  params: unknown,
): Promise<void> {
  let outcome: RelayedAnswer;
  if (method === "ping") outcome = { result: {} };
  else if (exchange.onServerRequest) {
    try {
      outcome = await exchange.onServerRequest(method, params, exchange.signal);
    } catch {
      outcome = { error: { code: -32603, message: `the agent did not answer ${method} in time` } };
    }
  } else
    outcome = {
      error: { code: -32601, message: `Method not found: the gateway cannot relay ${method} on this request` },
    };
  const answer = { jsonrpc: "2.0", id, ...outcome };
  try {
    const response = await post(exchange, answer);
    await response.body?.cancel();
  } catch {
    // Best effort: a lost answer only makes the upstream's own request fail.
  }
}

/**
 * The events of an event stream (HTML Living Standard §9.2.6, "Interpreting an event stream"),
 * parsed by eventsource-parser; this loop only counts bytes against `maxBytes` and releases the
 * connection. An event not terminated by a blank line when the stream ends is discarded.
 */
async function* sseEvents(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  tooLarge: () => Error,
): AsyncGenerator<EventSourceMessage> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parsed: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => parsed.push(event) });
  let received = 0;
  let endsInCr = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        // The parser holds back a final lone CR in case an LF follows; at the end it is a line
        // end all the same, and an LF after it changes nothing else (CRLF is one line end).
        if (endsInCr) parser.feed("\n");
      } else {
        received += value.byteLength;
        if (received > maxBytes) throw tooLarge();
        const text = decoder.decode(value, { stream: true });
        if (text) endsInCr = text.endsWith("\r");
        parser.feed(text);
      }
      for (let event = parsed.shift(); event; event = parsed.shift()) yield event;
      if (done) return;
    }
  } finally {
    // Also runs when the caller stops early (response found): release the connection.
    await reader.cancel().catch(() => undefined);
  }
}

function garbage(exchange: Exchange, what: string): UpstreamError {
  return new UpstreamError(exchange.app, `upstream answered with ${what}`);
}

function tooLarge(exchange: Exchange): UpstreamError {
  return garbage(exchange, `more than ${MAX_ANSWER_BYTES} bytes`);
}

const errorBody = z.object({
  error: z.object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() }).loose(),
});

/** A short reason from an error body (the JSON-RPC error message when there is one), and that error. */
async function errorDetail(
  response: Response,
): Promise<{ detail: string; rpcError?: z.output<typeof errorBody>["error"] }> {
  const bytes = await readAtMost(response.body, 64 * 1024).catch(() => null);
  const text = bytes ? new TextDecoder().decode(bytes) : "";
  let detail = text;
  let rpcError: z.output<typeof errorBody>["error"] | undefined;
  try {
    const parsed = errorBody.safeParse(JSON.parse(text));
    if (parsed.success) ({ error: rpcError } = parsed.data);
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === "string") detail = message;
  } catch {
    // not JSON: keep the text
  }
  detail = detail.replace(/\s+/g, " ").trim().slice(0, 200);
  return { detail: detail ? `: ${detail}` : "", ...(rpcError ? { rpcError } : {}) };
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? `${err.message} (${code})` : err.message;
}

/** The URL without credentials or query, which may carry secrets. */
function describeUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/** Upstream text in our messages must never carry the token (e.g. an upstream echoing it). */
function redact(exchange: Exchange, text: string): string {
  return exchange.token ? text.replaceAll(exchange.token, "[redacted]") : text;
}
