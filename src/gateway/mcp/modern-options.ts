// How the gateway answers MCP 2026-07-28 requests, from its configuration (docs/mcp-endpoint.md):
// the capabilities `server/discover` declares and the caching hint of lists.
import type { GatewayConfig } from "../config.js";
import type { ModernAnswerOptions } from "./modern-methods.js";

/**
 * Tools always; prompts, resources, completions and logging when an MCP Proxy app can supply
 * them. `listChanged` when an MCP Proxy upstream may report changes (delivered on
 * `subscriptions/listen`); no resource `subscribe`: the gateway does not yet subscribe upstream
 * on an agent's behalf in this era.
 */
export function modernCapabilities(config: GatewayConfig): Record<string, unknown> {
  const proxies = config.apps.some((app) => app.type === "mcpProxy");
  return {
    tools: { listChanged: proxies },
    ...(proxies
      ? { prompts: { listChanged: true }, resources: { listChanged: true }, completions: {}, logging: {} }
      : {}),
  };
}

export function modernAnswerOptions(config: GatewayConfig): ModernAnswerOptions {
  return { capabilities: modernCapabilities(config), listTtlMs: config.provider.transports.stream.cacheTtl };
}
