// The seams between the gateway's stateless front and its Durable Objects, declared as the
// interfaces each object implements and its callers hold (as the MCP SDK declares its
// `Transport`): a call through a stub (`env.MCP_SESSION.get(id).receive(…)`) is a call across
// runtimes, by the platform's RPC, and readers and tools follow it here rather than losing the
// trail at the stub. Everything that crosses is structured-cloneable, or a function, which the
// RPC passes as a stub calling back into the caller (the session's `onEvent`).
//
// What crosses is declared here too, so both sides import it from this, the lower module.
import type { AuditEvent } from "./audit.js";
import type { Principal } from "./auth/principal.js";
import type { Admission, CallBudgetConfig } from "./call-budget.js";
import type { JSONRPCMessage, JSONRPCRequest } from "./mcp/messages.js";
import type { ListenFilter } from "./mcp/modern-methods.js";
import type { InitializeParams } from "./mcp/session-methods.js";
import type { HttpSnapshot } from "./policy/input.js";

/**
 * What the stateless front tells a session about the HTTP request that carried its messages.
 * Credentials travel only as `subjectToken` (for token exchange); the HTTP snapshot and the
 * claims are what policies see, so neither carries a credential.
 */
export interface CallerRequest {
  /** The agent's verified bearer token: the subject of token exchanges, never sent upstream. */
  subjectToken: string;
  /** W3C trace context of the agent's request, when it sent one. */
  traceparent?: string;
  /** Method, path and headers without Authorization or Cookie. */
  http: HttpSnapshot;
  /** The token's claims that policies may read (USER_CLAIMS). */
  claims: Record<string, unknown>;
}

/** Why no session was created: the principal holds every session it may, or that could not be checked. */
export interface SessionRefusal {
  refused: "sessionsPerPrincipal" | "unavailable";
  limit: number;
  retryAfterMs: number;
}

/** What opening a session came to: the reply to initialize, or why no session was created. */
export interface OpenResult {
  reply?: JSONRPCMessage;
  refusal?: SessionRefusal;
}

/** How the front wants one POST's messages answered. */
export interface ReceiveOptions {
  /** The agent reads an event stream, so upstream requests (sampling, elicitation) may be relayed to it. */
  relay: boolean;
  /** Each event before the replies (progress, log messages, relayed requests), in order. */
  onEvent?: (message: JSONRPCMessage) => unknown;
}

/**
 * One MCP session (MCP 2025-11-25 basic/transports, "Session Management"), one object per
 * Mcp-Session-Id. The front authenticates every request and passes the principal; an object
 * answers only its own principal, and to anyone else looks like a session that does not exist.
 */
export interface McpSessionRpc extends Rpc.DurableObjectBranded {
  /** Creates the session from its `initialize` request: the reply, or why no session was created. */
  open(
    sessionId: string,
    requestId: JSONRPCRequest["id"],
    params: InitializeParams,
    principal: Principal,
  ): Promise<OpenResult>;
  /** The replies to one POST's messages; null when the session does not exist or is another principal's. */
  receive(
    messages: JSONRPCMessage[],
    principal: Principal,
    request: CallerRequest,
    options: ReceiveOptions,
  ): Promise<JSONRPCMessage[] | null>;
  /** Whether the session exists, without counting as activity. */
  exists(): Promise<boolean>;
  /** The server-to-client event stream (GET); null when the session does not exist or is another principal's. */
  openStream(principal: Principal): Promise<ReadableStream<Uint8Array> | null>;
  /** Ends the session (DELETE); false when there was none. */
  terminate(principal: Principal, request: CallerRequest): Promise<boolean>;
  /**
   * Ends the session because `principal` presented a revoked token on it: only when the session
   * is that principal's (and grant's). False when there was no such session.
   */
  endRevoked(principal: Principal): Promise<boolean>;
}

/** How the front wants one 2026-07-28 request answered. */
export interface ContextRequestOptions {
  /** The revision the request named (`_meta["io.modelcontextprotocol/protocolVersion"]`). */
  protocolVersion: string;
  /** Events before the reply (progress, log messages the request asked for), in order; only when the agent reads an event stream. */
  onEvent?: (message: JSONRPCMessage) => unknown;
  /** A random key the front chose, by which it may `cancel` this request while it runs. */
  cancelKey?: string;
}

/**
 * The context of one principal (principalKey()) in MCP 2026-07-28, where there are no sessions:
 * what a session holds for its apps (exchanged tokens, upstream sessions with session-based
 * upstreams, the catalog), kept per user and agent. The object is named by the principal, so a
 * request reaches only its own principal's context.
 */
export interface PrincipalContextRpc extends Rpc.DurableObjectBranded {
  /**
   * The reply to one request (a result, or a JSON-RPC error carrying the request's id), as a
   * list of one, the shape the RPC's types carry for a message (as McpSessionRpc.receive's).
   */
  request(
    message: JSONRPCRequest,
    principal: Principal,
    request: CallerRequest,
    options: ContextRequestOptions,
  ): Promise<JSONRPCMessage[]>;
  /**
   * Opens a `subscriptions/listen` stream (MCP 2026-07-28 basic/patterns/subscriptions): SSE
   * frames, the acknowledgment first (with the URIs of `resourceSubscriptions` it honours), then
   * the list changes `filter` opted into and the updates of those resources, each carrying the
   * subscription's id; comment lines keep it alive. It ends when the agent closes it, or with
   * `notifications/cancelled` when the context tears it down. `request` is the listen request's
   * own (its token exchanged for the upstream listeners the URIs need).
   */
  listen(
    id: JSONRPCRequest["id"],
    filter: ListenFilter,
    principal: Principal,
    request: CallerRequest,
  ): Promise<ReadableStream<Uint8Array>>;
  /**
   * Cancels the request running under `cancelKey` (the agent closed its response stream, MCP
   * 2026-07-28 basic/patterns/cancellation): its upstream calls stop and each upstream is told.
   * An explicit call rather than an AbortSignal argument: the runtime passes those over RPC only
   * behind an experimental compatibility flag (docs/mcp-endpoint.md, "Cancellation").
   */
  cancel(cancelKey: string): Promise<void>;
}

export type SessionGrant = { granted: true } | { granted: false; retryAfterMs: number };

/** One object per principal (principalKey()): its live sessions and its tool call budget (mcpProvider.limits). */
export interface PrincipalLimitsRpc extends Rpc.DurableObjectBranded {
  /** A slot for `sessionId` among at most `limit` live sessions, leased for `leaseMs`. */
  acquireSession(sessionId: string, limit: number, leaseMs: number): Promise<SessionGrant>;
  renewSession(sessionId: string, leaseMs: number): Promise<void>;
  releaseSession(sessionId: string): Promise<void>;
  /** Takes one call from the principal's tool call budget. */
  admitToolCall(config: CallBudgetConfig): Promise<Admission>;
}

export interface OutboxStatus {
  /** Events held, not yet acknowledged by the sink. */
  backlog: number;
  /** Consecutive failed delivery attempts (0 after a success). */
  failures: number;
  /** When the next delivery attempt is due (ms since the epoch), if any. */
  nextAttemptAt: number | null;
}

/** One shard of the audit outbox: holds events until the HTTP sink has acknowledged them. */
export interface AuditOutboxRpc extends Rpc.DurableObjectBranded {
  /** Stores events for delivery; resolves once they are durable. */
  append(events: AuditEvent[]): Promise<void>;
  status(): Promise<OutboxStatus>;
}
