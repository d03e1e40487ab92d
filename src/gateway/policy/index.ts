// The gateway's policy enforcement point, bound to the policies in this worker's bundle: one
// engine per isolate, so each policy is instantiated once and reused by every session the
// isolate hosts. Worker code imports from here; tests build engines over their own fixtures.
import type { AppConfig } from "../apps-schema.js";
import type { GatewayConfig } from "../config.js";
import { bundledPolicies } from "./bundled.generated.js";
import { decideToolAccess, reportPolicies, type PolicyStatus } from "./decide.js";
import type { PolicyDecision } from "./decision.js";
import { PolicyEngine } from "./engine.js";
import type { PolicyInput } from "./input.js";
import { createPolicyRegistry } from "./registry.js";

const registry = createPolicyRegistry(bundledPolicies);
const engine = new PolicyEngine(registry);

/**
 * Whether a tool of `app` may be called (tools/call) or shown (tools/list, with
 * `tool.arguments` absent from the input). Never throws: failures are denies with a reason.
 */
export function decide(
  config: Pick<GatewayConfig, "provider">,
  app: AppConfig | undefined,
  input: PolicyInput,
): Promise<PolicyDecision> {
  return decideToolAccess(engine, config.provider, app, input);
}

/** Loads every configured policy and reports each one's state, for GET /status. */
export function policyStatus(config: Pick<GatewayConfig, "provider" | "apps">): Promise<PolicyStatus> {
  return reportPolicies(engine, registry, config.provider, config.apps);
}

export {
  buildPolicyInput,
  snapshotHttpRequest,
  type HttpSnapshot,
  type PolicyInput,
  type PolicyInputParts,
} from "./input.js";
export { DENIED_MESSAGE, WRONG_SHAPE, type PolicyDecision } from "./decision.js";
export type { PolicyStatus } from "./decide.js";
