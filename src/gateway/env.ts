// The gateway worker's bindings (wrangler.gateway.toml), in a module of their own: every layer
// that needs a binding imports this, and nothing here imports a layer above it, so reading the
// configuration does not pull in the Durable Objects that serve the sessions.
import type { McpSession } from "../../durable-objects/mcp-session.js";
import type { AuditOutbox } from "../../durable-objects/audit-outbox.js";
import type { PrincipalLimits } from "../../durable-objects/principal-limits.js";

/** Bindings of the gateway worker (wrangler.gateway.toml). */
export interface GatewayEnv {
  MCP_SESSION: DurableObjectNamespace<McpSession>;
  /** The audit outbox shards (durable-objects/audit-outbox.ts); needed when mcpProvider.audit.sink is set. */
  AUDIT_OUTBOX?: DurableObjectNamespace<AuditOutbox>;
  /** One object per principal: its live sessions and tool call budget (mcpProvider.limits). */
  PRINCIPAL_LIMITS: DurableObjectNamespace<PrincipalLimits>;
  /** Service binding to the auth tier, when both run on one account. */
  AUTH?: Fetcher;
  /** A whole configuration document (YAML or JSON) replacing the bundled config/gateway.yaml. */
  GATEWAY_CONFIG?: string;
  /** Secrets named by `{ env: NAME }` in the configuration (e.g. the gateway's client secret). */
  [secret: string]: unknown;
}
