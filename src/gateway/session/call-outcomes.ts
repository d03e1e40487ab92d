// How a call that reaches an upstream (tools/call, prompts/get, resources/read, resource
// subscriptions) can end short of its answer. Each step of the call pipeline (call-pipeline.ts)
// returns a value or throws one of these; only `settle` (settle.ts) turns them into the audit
// event, the metric, the span status and the agent's reply, so a step never writes a record.
//
// A refusal is the gateway saying no (the audit event's decision is "deny"): an unknown name, a
// policy's deny, a spent call budget. A failure is a call the gateway allowed that could not be
// carried out: bad arguments, a refused token exchange, an unreachable or failing upstream.
import type { AuditOutcome } from "../audit.js";

/** What the call ended with, and what the agent and the audit event are told. */
export interface StopDetails {
  /** The app the call was routed to, when the step knew it. */
  app?: string;
  /** The policy that decided (a deny names it). */
  policy?: string;
  /** The upstream's HTTP status, when it answered. */
  upstreamStatus?: number;
  /**
   * The JSON-RPC error a prompt or resource request answers with (an upstream's own code is
   * kept); tools answer with a tool error result instead, but an unknown tool is -32602.
   */
  code?: number;
  /**
   * A JSON-RPC error even a tool call answers with, as the protocol requires rather than a tool
   * error result: MissingRequiredClientCapability (-32021, MCP 2026-07-28 basic/patterns/mrtr).
   */
  protocolError?: { code: number; data?: unknown };
}

export abstract class CallStop extends Error {
  abstract readonly decision: "allow" | "deny";

  constructor(
    readonly outcome: AuditOutcome,
    /** For the audit event: why, in the operator's words. */
    readonly reason: string | undefined,
    /** For the agent: what it reads. */
    message: string,
    readonly details: StopDetails = {},
  ) {
    super(message);
  }
}

/** The gateway refused the call (decision "deny"). */
export class CallRefused extends CallStop {
  readonly decision = "deny";
  override readonly name = "CallRefused";
}

/** The gateway allowed the call, and it failed (decision "allow"). */
export class CallFailed extends CallStop {
  readonly decision = "allow";
  override readonly name = "CallFailed";
}
