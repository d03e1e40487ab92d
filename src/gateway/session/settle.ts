// The one end of every call the pipeline runs (call-pipeline.ts): from how the call ended it
// builds the audit event (src/gateway/audit.ts; one per call, allowed, denied or failed), the
// tool invocation metric, the span status, and the reply. Tools answer a refusal or failure with
// a tool error result the model can read and correct (MCP server/tools, "Error Handling"), except
// an unknown tool, which is -32602; prompts and resources have no error shape of their own and
// answer with JSON-RPC errors: -32602 for an unknown name, -32003 for a policy's deny, and the
// upstream's own code or -32603 for a failure.
import { ErrorCode, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { trace } from "@opentelemetry/api";
import { JsonRpcError } from "../../core/errors.js";
import { telemetryMetrics } from "../../core/telemetry/metrics.js";
import { currentTraceId, markSpanError } from "../../core/telemetry/spans.js";
import { traceIdOf, type AuditEvent } from "../audit.js";
import type { OutboundToken } from "../outbound/outbound-token.js";
import type { CallStop } from "./call-outcomes.js";
import type { Call, CallResults, SettleDeps } from "./call.js";

/** What the pipeline learned on the way, as the steps returned it. */
export interface Trail {
  started: number;
  app?: string;
  policy?: string;
  /** The policy's reason for an allow. */
  reason?: string;
  token?: OutboundToken;
  upstreamStatus?: number;
}

/** How the call ended: its answer, a refusal or failure, or an error nobody foresaw. */
export type Ending<C extends Call> = { value: CallResults[C["method"]] } | { stop: CallStop } | { unexpected: unknown };

export type Reply<C extends Call> = CallResults[C["method"]];

function toolError(text: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text }] };
}

/** The audit event, metric and span status of a call, and its reply (or the JSON-RPC error it answers with). */
export function settle<C extends Call>(deps: SettleDeps, call: C, trail: Trail, ending: Ending<C>): Reply<C> {
  const event = auditEvent(deps, call, trail, ending);
  deps.audit(event);
  if (call.method === "tools/call") {
    telemetryMetrics().toolInvocations.add(1, {
      "gateway.app": event.app ?? "none",
      "gen_ai.tool.name": call.name,
      "gateway.decision": event.decision,
      "gateway.outcome": event.outcome,
    });
  }
  // A deny is the gateway working; a failure is an error of the request's span.
  const span = trace.getActiveSpan();
  if (span && event.decision === "allow" && event.outcome !== "success") markSpanError(span, event.outcome);
  if ("value" in ending) return ending.value;
  if ("unexpected" in ending) throw ending.unexpected;
  const { stop } = ending;
  if (stop.details.protocolError)
    throw new JsonRpcError(stop.details.protocolError.code, stop.message, 400, stop.details.protocolError.data);
  if (call.method === "tools/call" && stop.outcome !== "unknown_tool") return toolError(stop.message) as Reply<C>;
  throw new JsonRpcError(stop.details.code ?? ErrorCode.InternalError, stop.message);
}

function auditEvent<C extends Call>(deps: SettleDeps, call: C, trail: Trail, ending: Ending<C>): AuditEvent {
  const { principal } = deps.session;
  const stop = "stop" in ending ? ending.stop : undefined;
  const app = stop?.details.app ?? trail.app;
  const upstreamStatus = stop?.details.upstreamStatus ?? trail.upstreamStatus;
  const reason = stop
    ? stop.reason
    : "unexpected" in ending
      ? ending.unexpected instanceof Error
        ? ending.unexpected.message
        : "error"
      : trail.reason;
  const policy = stop?.details.policy ?? trail.policy;
  const traceId = currentTraceId() ?? traceIdOf(deps.session.traceparent);
  const args = call.method === "tools/call" || call.method === "prompts/get" ? call.args : undefined;
  return {
    id: crypto.randomUUID(),
    time: new Date(trail.started).toISOString(),
    session_id: deps.session.id,
    agent: principal.clientId,
    user: principal.sub,
    issuer: principal.issuer,
    method: call.method,
    ...("uri" in call
      ? { resource: call.uri }
      : call.method === "tools/call"
        ? { tool: call.name }
        : { prompt: call.name }),
    ...(app ? { app } : {}),
    decision: stop?.decision ?? "allow",
    ...(policy ? { policy } : {}),
    ...(reason !== undefined ? { reason } : {}),
    outcome: stop?.outcome ?? ("unexpected" in ending ? "upstream_error" : outcomeOf(call, ending)),
    ...(trail.token?.jti ? { token_jti: trail.token.jti } : {}),
    ...(trail.token?.cached !== undefined ? { token_cached: trail.token.cached } : {}),
    ...(upstreamStatus !== undefined ? { upstream_status: upstreamStatus } : {}),
    latency_ms: Date.now() - trail.started,
    ...(traceId ? { trace_id: traceId } : {}),
    ...(args && deps.logArguments ? { arguments: args } : {}),
  };
}

function outcomeOf<C extends Call>(call: C, ending: Ending<C>): "success" | "tool_error" {
  return call.method === "tools/call" && "value" in ending && (ending.value as CallToolResult).isError
    ? "tool_error"
    : "success";
}
