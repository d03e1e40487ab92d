// The gateway worker's bindings (wrangler.gateway.toml), in a module of their own: every layer
// that needs a binding imports this, and it names each Durable Object only by its RPC seam
// (object-rpc.ts), so reading the configuration does not pull in the objects themselves.
import type { AuditOutboxRpc, McpSessionRpc, PrincipalContextRpc, PrincipalLimitsRpc } from "./object-rpc.js";

/** Bindings of the gateway worker (wrangler.gateway.toml). */
export interface GatewayEnv {
  MCP_SESSION: DurableObjectNamespace<McpSessionRpc>;
  /** One object per principal for MCP 2026-07-28 requests, which have no session (docs/architecture.md). */
  PRINCIPAL_CONTEXT: DurableObjectNamespace<PrincipalContextRpc>;
  /** The audit outbox shards (durable-objects/audit-outbox.ts); needed when mcpProvider.audit.sink is set. */
  AUDIT_OUTBOX?: DurableObjectNamespace<AuditOutboxRpc>;
  /** One object per principal: its live sessions and tool call budget (mcpProvider.limits). */
  PRINCIPAL_LIMITS: DurableObjectNamespace<PrincipalLimitsRpc>;
  /** Service binding to the auth tier, when both run on one account. */
  AUTH?: Fetcher;
  /** A whole configuration document (YAML or JSON) replacing the bundled config/gateway.yaml. */
  GATEWAY_CONFIG?: string;
  /** Secrets named by `{ env: NAME }` in the configuration (e.g. the gateway's client secret). */
  [secret: string]: unknown;
}
