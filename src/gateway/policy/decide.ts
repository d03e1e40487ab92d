// Which policies decide a tool call, what happens when none is configured, and what /status
// says about them.
import type { AppConfig } from "../apps-schema.js";
import type { McpProviderConfig } from "../config-schema.js";
import { DENIED_MESSAGE, type PolicyDecision } from "./decision.js";
import { PolicyError, type PolicyEngine, type PolicyFailure, type PolicyRef } from "./engine.js";
import type { PolicyRegistry } from "./registry.js";

export interface ConfiguredPolicy extends PolicyRef {
  /** Where the configuration names it: "global" or "apps.<name>". */
  scope: string;
}

/**
 * The global policy (mcpProvider.authorization.inbound.opa) first, then the app's own. Both
 * must allow: an app's policy can narrow what the organisation-wide one allows, never widen it.
 */
export function policiesFor(provider: McpProviderConfig, app: AppConfig | undefined): ConfiguredPolicy[] {
  return [globalPolicy(provider), app && appPolicy(app)].filter((policy) => policy !== undefined);
}

function globalPolicy(provider: McpProviderConfig): ConfiguredPolicy | undefined {
  const opa = provider.authorization.inbound?.opa;
  return opa && { scope: "global", name: opa.name, entrypoint: opa.entrypoint };
}

function appPolicy(app: AppConfig): ConfiguredPolicy | undefined {
  const opa = app.authorization.inbound?.opa;
  return opa && { scope: `apps.${app.name}`, name: opa.name, entrypoint: opa.entrypoint };
}

/** Whether a tool of `app` may be called (or, listing, shown) for this input. Never throws. */
export async function decideToolAccess(
  engine: PolicyEngine,
  provider: McpProviderConfig,
  app: AppConfig | undefined,
  input: unknown,
): Promise<PolicyDecision> {
  const policies = policiesFor(provider, app);
  if (policies.length === 0) {
    // Only the absence of configuration falls back to the default; a configured policy that is
    // missing or fails has already denied inside engine.decide.
    return provider.authorization.defaultDecision === "allow"
      ? { allowed: true, reason: "no policy is configured; mcpProvider.authorization.defaultDecision is allow" }
      : {
          allowed: false,
          externalMessage: DENIED_MESSAGE,
          reason: "no policy is configured; mcpProvider.authorization.defaultDecision is deny",
        };
  }
  let decision: PolicyDecision = { allowed: false };
  for (const policy of policies) {
    decision = await engine.decide(policy, input);
    if (!decision.allowed) return decision;
  }
  return decision;
}

export interface PolicyHealth {
  scope: string;
  name: string;
  /** The entrypoint evaluated, once the policy loaded. */
  entrypoint?: string;
  status: "ok" | Exclude<PolicyFailure, "evaluation">;
  error?: string;
}

/** The `policy` field of GET /status. */
export interface PolicyStatus {
  defaultDecision: "allow" | "deny";
  /** Names of the policies in the worker bundle. */
  bundled: string[];
  /** Each policy the configuration names, loaded and checked. */
  policies: PolicyHealth[];
}

export async function reportPolicies(
  engine: PolicyEngine,
  registry: PolicyRegistry,
  provider: McpProviderConfig,
  apps: AppConfig[],
): Promise<PolicyStatus> {
  const configured = [globalPolicy(provider), ...apps.map(appPolicy)].filter((policy) => policy !== undefined);
  const policies = await Promise.all(
    configured.map(async ({ scope, name, entrypoint }): Promise<PolicyHealth> => {
      try {
        return { scope, name, ...(await engine.check({ name, entrypoint })), status: "ok" };
      } catch (err) {
        if (!(err instanceof PolicyError) || err.failure === "evaluation") throw err;
        return { scope, name, status: err.failure, error: err.message };
      }
    }),
  );
  return { defaultDecision: provider.authorization.defaultDecision, bundled: registry.names(), policies };
}
