// The MCP endpoint's HTTP side (Streamable HTTP, protocol 2025-11-25, also 2025-06-18 and
// 2025-03-26). This stateless front checks headers and bodies, then routes each message to the
// McpSession Durable Object named by the session id; the object holds all session state. POSTs
// of MCP 2026-07-28, which have no session, are told apart first and go to modern-transport.ts.
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import type { Context } from "hono";
import { GatewayErrorCode, JsonRpcError } from "../../core/errors.js";
import { log } from "../../core/log.js";
import type { GatewayApp } from "../app-types.js";
import type { Authenticated } from "../auth/bearer.js";
import type { Principal } from "../auth/principal.js";
import type { McpSessionRpc, OpenResult, SessionRefusal } from "../object-rpc.js";
import { callerRequest } from "./caller-request.js";
import {
  acceptsEventStream,
  chooseResponseFormat,
  readProtocolVersionHeader,
  requireAllowedOrigin,
  requireJsonContentType,
  type ResponseFormat,
} from "./http-negotiation.js";
import { isInitialize, isRequest, parseMessages, type JSONRPCMessage } from "./messages.js";
import { handleModernPost } from "./modern-transport.js";
import { objectDeadlineMs, ObjectDeadlinePassed, objectUnavailable, withinDeadline } from "./object-deadline.js";
import { classifyPost } from "./post-era.js";
import { allowsBatches } from "./protocol.js";
import { answerFromSession, SessionMessages } from "./session-answer.js";
import { isWellFormedSessionId, newSessionId } from "./session-id.js";
import { readInitializeParams } from "./session-methods.js";

type McpContext = Context<GatewayApp>;

function streamConfig(c: McpContext) {
  return c.get("config").provider.transports.stream;
}

/** The session's object, through its RPC seam (object-rpc.ts). */
function sessionStub(c: McpContext, sessionId: string): DurableObjectStub<McpSessionRpc> {
  return c.env.MCP_SESSION.get(c.env.MCP_SESSION.idFromName(sessionId));
}

const sessionNotFound = () => new JsonRpcError(GatewayErrorCode.ServerError, "Session not found", 404);

/** The session a request names. Ids we could not have issued are unknown sessions (404). */
function requireSessionId(c: McpContext): string {
  const sessionId = c.req.header(streamConfig(c).session.headerName);
  if (sessionId === undefined) {
    // MCP Streamable HTTP, "Session Management": requests without a required session id SHOULD get 400.
    throw new JsonRpcError(
      GatewayErrorCode.ServerError,
      `Bad Request: ${streamConfig(c).session.headerName} header is required`,
      400,
    );
  }
  if (!isWellFormedSessionId(sessionId)) throw sessionNotFound();
  return sessionId;
}

export function checkOrigin(c: McpContext): void {
  requireAllowedOrigin(c.req.header("Origin"), c.get("config").provider.resource, streamConfig(c).allowedOrigins);
}

/** POST: one JSON-RPC message (or, in 2025-03-26, a batch) from the client. */
export async function handlePost(c: McpContext, caller: Authenticated): Promise<Response> {
  const { principal } = caller;
  const format = chooseResponseFormat(c.req.header("Accept"));
  requireJsonContentType(c.req.header("Content-Type"));
  const text = await c.req.text();
  const limits = c.get("config").provider.limits;
  // MCP 2026-07-28 requests carry their revision and need no session (modern-transport.ts).
  const era = classifyPost((name) => c.req.header(name), text, limits);
  if (era.kind === "modern") return handleModernPost(c, caller, era.route, format);
  const headerVersion = readProtocolVersionHeader(c.req.header("MCP-Protocol-Version"));
  const { messages, batch } = parseMessages(text, limits, era.parsed);
  const headerName = streamConfig(c).session.headerName;

  const initialize = messages.find(isInitialize);
  if (initialize) {
    // MCP 2025-03-26 lifecycle: the initialize request MUST NOT be part of a batch.
    if (batch) throw new JsonRpcError(ErrorCode.InvalidRequest, "Invalid Request: initialize must not be batched", 400);
    if (c.req.header(headerName) !== undefined) {
      throw new JsonRpcError(ErrorCode.InvalidRequest, "Invalid Request: this session is already initialized", 400);
    }
    const params = readInitializeParams(initialize);
    const sessionId = newSessionId();
    const opened: OpenResult = await sessionStub(c, sessionId).open(sessionId, initialize.id, params, principal);
    if (!opened.reply) throw sessionRefused(opened.refusal);
    return writeReplies(format, [opened.reply], false, { [headerName]: sessionId });
  }

  if (batch && !allowsBatches(headerVersion)) {
    throw new JsonRpcError(
      ErrorCode.InvalidRequest,
      `Invalid Request: JSON-RPC batches are not part of protocol ${headerVersion}`,
      400,
    );
  }
  const sessionId = requireSessionId(c);
  const eventStream = acceptsEventStream(c.req.header("Accept"));
  // Events (progress, upstream requests) are only passed on when the agent can read them.
  const session = new SessionMessages();
  const requests = messages.filter(isRequest);
  // A session that never answers must not hold the agent (object-deadline.ts): 503, as for a context.
  const replies = withinDeadline(
    sessionStub(c, sessionId).receive(messages, principal, callerRequest(c, caller), {
      relay: eventStream,
      ...(eventStream ? { onEvent: session.onEvent } : {}),
    }),
    objectDeadlineMs(c.get("config").apps, requests.length),
  ).then(
    (answer) => {
      if (answer === null) throw sessionNotFound();
      return answer;
    },
    (err: unknown) => {
      if (!(err instanceof ObjectDeadlinePassed)) throw err;
      log("error", "mcp.session_unavailable", { error: err.message, deadline_ms: err.deadlineMs });
      throw objectUnavailable("this session", requests.length === 1 ? requests[0]!.id : null);
    },
  );
  return answerFromSession(session.follow(replies), {
    format,
    acceptsEventStream: eventStream,
    batch: batch && messages.some(isRequest),
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  });
}

/**
 * Why initialize created no session, as the agent reads it: over the principal's session limit,
 * HTTP 429 with Retry-After (RFC 6585 §4; when its oldest idle session would time out), or 503
 * when the principal's limits could not be checked (RFC 9110 §15.6.4). Both carry a JSON-RPC
 * error (-32000, the MCP transport's server range) with id null, as every transport-level
 * rejection here does; MCP clients show it as a failed initialization.
 */
function sessionRefused(refusal: SessionRefusal | undefined): JsonRpcError {
  if (!refusal) return new JsonRpcError(ErrorCode.InternalError, "internal error", 500);
  const seconds = Math.max(1, Math.ceil(refusal.retryAfterMs / 1000));
  const headers = { "Retry-After": String(seconds) };
  if (refusal.refused === "unavailable") {
    return new JsonRpcError(
      GatewayErrorCode.ServerError,
      "Service Unavailable: the session limit could not be checked, try again shortly",
      503,
      undefined,
      headers,
    );
  }
  return new JsonRpcError(
    GatewayErrorCode.ServerError,
    `Too Many Requests: this agent already has ${refusal.limit} open sessions for this user; end one (HTTP DELETE) or try again in ${seconds} s`,
    429,
    { limit: refusal.limit },
    headers,
  );
}

/** DELETE: the client ends its session. */
export async function handleDelete(c: McpContext, caller: Authenticated): Promise<Response> {
  const sessionId = requireSessionId(c);
  if (!streamConfig(c).session.allowClientTermination) {
    // MCP Streamable HTTP: the server MAY answer 405 when clients may not end sessions.
    throw new JsonRpcError(
      GatewayErrorCode.ServerError,
      "Method Not Allowed: sessions end by idle timeout only",
      405,
      undefined,
      {
        Allow: "POST",
      },
    );
  }
  if (!(await sessionStub(c, sessionId).terminate(caller.principal, callerRequest(c, caller)))) throw sessionNotFound();
  return new Response(null, { status: 204 });
}

/** GET: the server-to-client SSE stream of a session (MCP Streamable HTTP, "Listening for Messages"). */
export async function handleGet(c: McpContext, principal: Principal): Promise<Response> {
  if (!/text\/event-stream/i.test(c.req.header("Accept") ?? "")) {
    throw new JsonRpcError(GatewayErrorCode.ServerError, "Not Acceptable: GET opens a text/event-stream", 406);
  }
  const sessionId = requireSessionId(c);
  const stream = await sessionStub(c, sessionId).openStream(principal);
  if (!stream) throw sessionNotFound();
  return new Response(stream, {
    status: 200,
    headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" },
  });
}

/** Writes the reply to initialize as JSON or SSE, per the client's Accept. */
function writeReplies(
  format: ResponseFormat,
  replies: JSONRPCMessage[],
  batch: boolean,
  headers: Record<string, string> = {},
): Response {
  if (replies.length === 0) return new Response(null, { status: 202, headers });
  if (format === "json") {
    const body = JSON.stringify(batch ? replies : replies[0]);
    return new Response(body, { status: 200, headers: { ...headers, "Content-Type": "application/json" } });
  }
  const events = replies.map((message) => `event: message\ndata: ${JSON.stringify(message)}\n\n`).join("");
  return new Response(events, {
    status: 200,
    headers: { ...headers, "Content-Type": "text/event-stream", "Cache-Control": "no-cache" },
  });
}
