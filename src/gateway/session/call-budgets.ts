// The tool call budgets that apply to a session's calls (docs/configuration.md, mcpProvider.limits):
// the session's own (in the object's memory: see call-budget.ts), then its principal's (in the
// principal's object, durable-objects/principal-limits.ts). A call the principal's budget refuses
// is given back to the session's. When the principal's object cannot be asked, the call is
// refused (fail closed): a limit an outage lifts is no limit, and the outage only touches that
// one principal.
import { log } from "../../core/log.js";
import { CallBudget, type ToolCallAdmission } from "../call-budget.js";
import type { GatewayConfig } from "../config.js";
import type { PrincipalLimitsRpc } from "../object-rpc.js";

/** When the principal's object could not be asked: how soon to try again. */
export const UNAVAILABLE_RETRY_MS = 5_000;

export class SessionCallBudgets {
  /** The session's tool call budget, when the configuration sets one. */
  private session: CallBudget | undefined;

  constructor(private readonly sessionId: () => string | undefined) {}

  /** The admission of one call, or undefined when no budget is configured. */
  admitter(
    config: GatewayConfig,
    principal: () => DurableObjectStub<PrincipalLimitsRpc>,
    options: { perSession: boolean } = { perSession: true },
  ): (() => Promise<ToolCallAdmission>) | undefined {
    const { toolCallsPerPrincipal } = config.provider.limits;
    // A principal's context (MCP 2026-07-28, no sessions) has only its principal's budget.
    const toolCallsPerSession = options.perSession ? config.provider.limits.toolCallsPerSession : undefined;
    if (!toolCallsPerSession && !toolCallsPerPrincipal) return undefined;
    if (toolCallsPerSession) this.session ??= new CallBudget(toolCallsPerSession, Date.now());
    const session = toolCallsPerSession ? this.session : undefined;
    return async () => {
      if (session) {
        const admission = session.admit(Date.now());
        if (!admission.admitted)
          return { admitted: false, budget: "toolCallsPerSession", retryAfterMs: admission.retryAfterMs };
      }
      if (!toolCallsPerPrincipal) return { admitted: true };
      let admission;
      try {
        admission = await principal().admitToolCall(toolCallsPerPrincipal);
      } catch (err) {
        log("error", "mcp.principal_limits_failed", {
          session_id: this.sessionId(),
          operation: "admit",
          error: err instanceof Error ? err.message : "error",
        });
        session?.refund();
        return { admitted: false, budget: "unavailable", retryAfterMs: UNAVAILABLE_RETRY_MS };
      }
      if (admission.admitted) return admission;
      session?.refund();
      return { admitted: false, budget: "toolCallsPerPrincipal", retryAfterMs: admission.retryAfterMs };
    };
  }
}
