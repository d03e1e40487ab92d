// How the gateway answers MCP 2026-07-28 requests, from its configuration (docs/mcp-endpoint.md):
// the capabilities `server/discover` declares and the caching hint of lists.
import type { GatewayConfig } from "../config.js";
import type { ModernAnswerOptions } from "./modern-methods.js";

/**
 * Tools always; prompts, resources, completions and logging when an MCP Proxy app can supply
 * them. No `listChanged` and no resource `subscribe`: this era delivers changes only through
 * `subscriptions/listen`, which the gateway does not offer yet, so agents rely on `ttlMs`.
 */
export function modernCapabilities(config: GatewayConfig): Record<string, unknown> {
  const proxies = config.apps.some((app) => app.type === "mcpProxy");
  return { tools: {}, ...(proxies ? { prompts: {}, resources: {}, completions: {}, logging: {} } : {}) };
}

export function modernAnswerOptions(config: GatewayConfig): ModernAnswerOptions {
  return { capabilities: modernCapabilities(config), listTtlMs: config.provider.transports.stream.cacheTtl };
}
