// What the session's call pipeline (call-pipeline.ts) works on and what settles it (settle.ts):
// the calls an agent makes of upstreams, what each answers, and what settling needs to know of
// the session. Shared by both, so it lives below them.
import type { CallToolResult, GetPromptResult, ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import type { AuditEvent } from "../audit.js";
import type { Principal } from "../auth/principal.js";
import type { PolicyInputParts } from "../policy/input.js";

/** One call, as the agent asked for it (names are the exposed, namespaced ones). */
export type Call =
  | { method: "tools/call"; name: string; args: Record<string, unknown>; params?: Record<string, unknown> }
  | { method: "prompts/get"; name: string; args: Record<string, string>; params: Record<string, unknown> }
  | { method: "resources/read" | "resources/subscribe" | "resources/unsubscribe"; uri: string };

export type ToolCall = Extract<Call, { method: "tools/call" }>;
export type PromptCall = Extract<Call, { method: "prompts/get" }>;
export type ResourceCall = Extract<Call, { method: `resources/${string}` }>;

/** What a call answers when it succeeds. */
export interface CallResults {
  "tools/call": CallToolResult;
  "prompts/get": GetPromptResult;
  "resources/read": ReadResourceResult;
  "resources/subscribe": Record<string, never>;
  "resources/unsubscribe": Record<string, never>;
}

export type PolicyTarget = Pick<PolicyInputParts, "tool" | "prompt" | "resource">;

/** What settling a call needs: where its audit event goes, and whose session it is. */
export interface SettleDeps {
  audit(event: AuditEvent): void;
  session: { id: string; principal: Principal; traceparent?: string };
  /** mcpProvider.observability.logToolArguments: arguments may hold personal data. */
  logArguments: boolean;
}
