// The MCP endpoint's two eras, chosen per request (docs/mcp-endpoint.md). A POST is classified by
// post-era.ts (MCP 2026-07-28 basic/versioning, "Backward Compatibility"): a request whose
// `_meta` claims a per-request revision is served here, without a session, by its principal's
// context object (session/principal-context.ts); everything else (initialize, requests of a
// session, batches, responses, GET and DELETE) goes the session-based way (http-transport.ts)
// exactly as before.
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import type { InboundModernRoute } from "@modelcontextprotocol/server";
import type { Context } from "hono";
import { randomToken } from "../../core/encoding.js";
import { GatewayErrorCode, JsonRpcError } from "../../core/errors.js";
import { log } from "../../core/log.js";
import type { GatewayApp } from "../app-types.js";
import type { Authenticated } from "../auth/bearer.js";
import { principalKey } from "../auth/principal.js";
import type { PrincipalContextRpc } from "../object-rpc.js";
import { callerRequest } from "./caller-request.js";
import { acceptsEventStream, type ResponseFormat } from "./http-negotiation.js";
import type { JSONRPCMessage, JSONRPCRequest } from "./messages.js";
import { checkStandardHeaders } from "./modern-headers.js";
import {
  discoverResult,
  httpStatusOf,
  isModernMethod,
  readListenFilter,
  UNSUPPORTED_PROTOCOL_VERSION,
} from "./modern-methods.js";
import { modernAnswerOptions } from "./modern-options.js";
import { objectDeadlineMs, ObjectDeadlinePassed, objectUnavailable, withinDeadline } from "./object-deadline.js";
import { ALL_PROTOCOL_VERSIONS, isModernProtocolVersion } from "./protocol.js";
import { answerFromSession, SessionMessages } from "./session-answer.js";
import { errorMessage } from "./session-methods.js";

type McpContext = Context<GatewayApp>;

/** GET and DELETE belong to sessions, which this revision removed (transports/streamable-http, "Backward Compatibility"). */
export function refuseModernStream(c: McpContext): void {
  const version = c.req.header("MCP-Protocol-Version")?.trim();
  if (version === undefined || !isModernProtocolVersion(version)) return;
  throw new JsonRpcError(
    GatewayErrorCode.ServerError,
    `Method Not Allowed: protocol ${version} has no ${c.req.method} on the MCP endpoint`,
    405,
    undefined,
    { Allow: "POST" },
  );
}

/** The revision a modern request names, when this gateway serves it; otherwise -32022 with what it does serve. */
function requireServedRevision(route: InboundModernRoute): string {
  const requested = route.classification.revision;
  if (requested !== undefined && isModernProtocolVersion(requested)) return requested;
  throw new JsonRpcError(
    UNSUPPORTED_PROTOCOL_VERSION,
    requested === undefined
      ? "Unsupported protocol version: the request names none"
      : `Unsupported protocol version: ${requested.slice(0, 32)} (session-based revisions start with initialize)`,
    400,
    {
      supported: [...ALL_PROTOCOL_VERSIONS],
      ...(requested !== undefined ? { requested: requested.slice(0, 32) } : {}),
    },
    {},
    "id" in route.message ? route.message.id : null,
  );
}

/** The principal's context object, through its RPC seam (object-rpc.ts). */
function contextStub(c: McpContext, caller: Authenticated): DurableObjectStub<PrincipalContextRpc> {
  const namespace = c.env.PRINCIPAL_CONTEXT;
  return namespace.get(namespace.idFromName(principalKey(caller.principal)));
}

/** One 2026-07-28 POST: a notification is accepted and dropped (none is defined), a request answered. */
export async function handleModernPost(
  c: McpContext,
  caller: Authenticated,
  route: InboundModernRoute,
  format: ResponseFormat,
): Promise<Response> {
  const protocolVersion = requireServedRevision(route);
  if (route.messageKind === "notification") return new Response(null, { status: 202 });
  const message: JSONRPCRequest = route.message;
  checkStandardHeaders(
    {
      protocolVersion: c.req.header("MCP-Protocol-Version"),
      method: c.req.header("Mcp-Method"),
      name: c.req.header("Mcp-Name"),
    },
    message,
  );
  if (message.method === "subscriptions/listen") return listen(c, caller, message);
  if (!isModernMethod(message.method)) {
    throw new JsonRpcError(
      ErrorCode.MethodNotFound,
      `Method not found: ${message.method}`,
      404,
      undefined,
      {},
      message.id,
    );
  }
  const config = c.get("config");
  // Discovery depends on the configuration alone: answered here, without waking the context.
  if (message.method === "server/discover")
    return reply(format, { jsonrpc: "2.0", id: message.id, result: discoverResult(modernAnswerOptions(config)) });
  const eventStream = acceptsEventStream(c.req.header("Accept"));
  const events = new SessionMessages();
  const stub = contextStub(c, caller);
  const cancelKey = randomToken(16);
  let settled = false;
  // basic/patterns/cancellation: the agent closing the response (or the request) cancels it; the
  // object stops the upstream call and tells the upstream. Kept alive past the agent's departure.
  const cancel = () => {
    if (!settled) c.executionCtx.waitUntil(stub.cancel(cancelKey).catch(() => undefined));
  };
  const agentGone = c.req.raw.signal;
  agentGone.addEventListener("abort", cancel, { once: true });
  // The RPC's types cannot express a JSON-RPC message (open-ended `unknown` members) and erase it
  // to `never`; what crosses is the plain data PrincipalContextRpc declares.
  const requested = stub.request(message, caller.principal, callerRequest(c, caller), {
    protocolVersion,
    cancelKey,
    ...(eventStream ? { onEvent: events.onEvent } : {}),
  }) as unknown as Promise<JSONRPCMessage[]>;
  // An object that never answers must not hold the agent (object-deadline.ts): cancelled, and 503.
  const answer = withinDeadline(requested, objectDeadlineMs(config.apps), cancel).finally(() => {
    settled = true;
    agentGone.removeEventListener("abort", cancel);
  });
  const messages = events.follow(
    answer.then(
      (replies) => replies,
      (err: unknown) => Promise.reject(contextUnavailable(err, message.id)),
    ),
  );
  const first = await messages.next();
  // Nothing before the reply: one body, whose status says what kind of error it is.
  if (!first.done && !("method" in first.value)) return reply(format, first.value);
  return answerFromSession(prepend(first, endingWithError(messages, message.id)), {
    format,
    acceptsEventStream: eventStream,
    batch: false,
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
    // transports/streamable-http, "Receiving Messages": proxies must not buffer the stream.
    streamHeaders: { "X-Accel-Buffering": "no" },
    onAgentGone: cancel,
    keepAliveMs: config.provider.transports.stream.keepAlive,
  });
}

/**
 * The messages after the stream opened; a failure then (the object went silent past its deadline,
 * or was lost) ends the stream with the request's error rather than cutting it off.
 */
async function* endingWithError(
  rest: AsyncGenerator<JSONRPCMessage>,
  id: JSONRPCRequest["id"],
): AsyncGenerator<JSONRPCMessage> {
  try {
    yield* rest;
  } catch (err) {
    if (!(err instanceof JsonRpcError)) throw err;
    yield errorMessage(id, err);
  }
}

/** subscriptions/listen: the principal's context writes the stream (basic/patterns/subscriptions). */
async function listen(c: McpContext, caller: Authenticated, message: JSONRPCRequest): Promise<Response> {
  let filter;
  try {
    filter = readListenFilter(message);
  } catch (err) {
    if (err instanceof JsonRpcError) throw withId(err, message.id);
    throw err;
  }
  if (!acceptsEventStream(c.req.header("Accept")))
    throw new JsonRpcError(
      GatewayErrorCode.ServerError,
      "Not Acceptable: subscriptions/listen answers with text/event-stream",
      406,
      undefined,
      {},
      message.id,
    );
  let stream: ReadableStream<Uint8Array>;
  try {
    stream = await contextStub(c, caller).listen(message.id, filter, caller.principal, callerRequest(c, caller));
  } catch (err) {
    throw contextUnavailable(err, message.id);
  }
  return new Response(stream, { status: 200, headers: SSE_HEADERS });
}

function withId(err: JsonRpcError, id: JSONRPCRequest["id"]): JsonRpcError {
  return new JsonRpcError(err.code, err.message, err.httpStatus, err.data, err.headers, id);
}

/**
 * The principal's context could not be reached (the runtime lost the object mid-request, an
 * overloaded object) or did not answer within the front's deadline: the request's id, -32603,
 * and 503 with Retry-After (object-deadline.ts).
 */
function contextUnavailable(err: unknown, id: JSONRPCRequest["id"]): JsonRpcError {
  log("error", "mcp.context_unavailable", {
    error: err instanceof Error ? err.message : "error",
    ...(err instanceof ObjectDeadlinePassed ? { deadline_ms: err.deadlineMs } : {}),
  });
  return objectUnavailable("this agent's context", id);
}

async function* prepend(
  first: IteratorResult<JSONRPCMessage>,
  rest: AsyncGenerator<JSONRPCMessage>,
): AsyncGenerator<JSONRPCMessage> {
  if (!first.done) yield first.value;
  yield* rest;
}

const SSE_HEADERS = { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no" };

function reply(format: ResponseFormat, message: JSONRPCMessage): Response {
  const status = "error" in message ? httpStatusOf((message.error as { code: number }).code) : 200;
  if (format === "sse")
    return new Response(`event: message\ndata: ${JSON.stringify(message)}\n\n`, { status, headers: SSE_HEADERS });
  return new Response(JSON.stringify(message), { status, headers: { "Content-Type": "application/json" } });
}
