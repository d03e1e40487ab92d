// One structured event per tool call that reached the gateway, allowed, denied or failed
// (docs/audit.md), and likewise per prompts/get, resources/read and resource subscription, which
// reach upstreams with exchanged tokens too: who (agent and user), what (tool, prompt or
// resource, and app), the decision, the exchanged token's `jti` (never a token), the upstream
// status, latency and trace id. Written to the worker log, where Workers Logs and Logpush pick
// it up (docs/audit.md).
import { prepareLog } from "../core/log.js";

export type AuditOutcome =
  | "success"
  | "tool_error"
  | "upstream_error"
  | "exchange_error"
  | "denied"
  | "unknown_tool"
  | "invalid_arguments"
  | "rate_limited"
  | "unknown_prompt"
  | "unknown_resource"
  | "cancelled";

export interface AuditEvent {
  /** Unique per event (a UUID), the same on every delivery attempt: sinks deduplicate on it. */
  id: string;
  /** When the request reached the session (ISO 8601, UTC): sinks receive no log line around the event. */
  time: string;
  session_id: string;
  /** The agent: the OAuth client holding the session. */
  agent: string;
  /** The user the agent acts for (`sub`). */
  user: string;
  issuer: string;
  /** tools/call, prompts/get, resources/read, resources/subscribe or resources/unsubscribe. */
  method: string;
  /** The tool as the agent named it (namespaced); tools/call only. */
  tool?: string;
  /** The prompt as the agent named it (namespaced); prompts/get only. */
  prompt?: string;
  /** The resource URI; resources/* only. */
  resource?: string;
  app?: string;
  decision: "allow" | "deny";
  /** The policy that decided (the last one asked, when all allowed); absent when none is configured. */
  policy?: string;
  /** Why: the policy's reason, or what failed. */
  reason?: string;
  outcome: AuditOutcome;
  token_jti?: string;
  token_cached?: boolean;
  upstream_status?: number;
  latency_ms: number;
  trace_id?: string;
  /** The call's arguments, only with mcpProvider.observability.logToolArguments. */
  arguments?: Record<string, unknown>;
  /** The MCP revision of a per-request (2026-07-28) call; session-based calls leave it out. */
  protocol_version?: string;
}

/**
 * The event's worker log line, taken now and written when called (prepareLog): sessions write it
 * once the reply has left (src/gateway/session/session-audit.ts).
 */
export function auditLogLine(event: AuditEvent): (() => void) | undefined {
  // Tool calls keep the event name dashboards and Logpush filters already match.
  return prepareLog("info", event.method === "tools/call" ? "audit.tool_call" : "audit.mcp_request", { ...event });
}

/** The trace id of a W3C traceparent (`00-<trace-id>-<parent-id>-<flags>`). */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  const match = traceparent ? /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(traceparent.trim()) : null;
  return match?.[1];
}
