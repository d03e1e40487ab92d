// One structured event per tool call that reached the gateway, allowed, denied or failed
// (DESIGN.md §4): who (agent and user), what (tool, app), the decision, the exchanged token's
// `jti` (never a token), the upstream status, latency and trace id. Written to the worker log,
// where Workers Logs and Logpush pick it up.
import { log } from "../core/log.js";

export type AuditOutcome = "success" | "tool_error" | "upstream_error" | "exchange_error" | "denied" | "unknown_tool";

export interface AuditEvent {
  session_id: string;
  /** The agent: the OAuth client holding the session. */
  agent: string;
  /** The user the agent acts for (`sub`). */
  user: string;
  issuer: string;
  /** The tool as the agent named it (namespaced). */
  tool: string;
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
}

export function writeAuditEvent(event: AuditEvent): void {
  log("info", "audit.tool_call", { ...event });
}

/** The trace id of a W3C traceparent (`00-<trace-id>-<parent-id>-<flags>`). */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  const match = traceparent ? /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(traceparent.trim()) : null;
  return match?.[1];
}
