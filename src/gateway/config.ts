import { formatIssues, memoizeConfig, parseConfig, type ConfigIssue, type ConfigResult } from "../core/config-loader.js";
import { log } from "../core/log.js";
import type { AppConfig } from "./apps-schema.js";
import { gatewayConfigSchema, type McpProviderConfig } from "./config-schema.js";
import bundledConfig from "../../config/gateway.yaml";
import type { McpSession } from "../../durable-objects/mcp-session.js";

/** Bindings of the gateway worker (wrangler.gateway.toml). */
export interface GatewayEnv {
  MCP_SESSION: DurableObjectNamespace<McpSession>;
  /** Service binding to the auth tier, when both run on one account. */
  AUTH?: Fetcher;
  /** A whole configuration document (YAML or JSON) replacing the bundled config/gateway.yaml. */
  GATEWAY_CONFIG?: string;
  /** Secrets named by `{ env: NAME }` in the configuration (e.g. the gateway's client secret). */
  [secret: string]: unknown;
}

export interface GatewayConfig {
  provider: McpProviderConfig;
  apps: AppConfig[];
  /** Values of the secrets the configuration names, by environment variable name. */
  secrets: Record<string, string>;
}

export function parseGatewayConfig(env: GatewayEnv): ConfigResult<GatewayConfig> {
  const parsed = parseConfig(gatewayConfigSchema, env.GATEWAY_CONFIG ?? bundledConfig);
  if (!parsed.ok) return parsed;
  const issues: ConfigIssue[] = [];
  const secrets: Record<string, string> = {};
  for (const [name, idp] of Object.entries(parsed.config.mcpProvider.identityProviders)) {
    const value = env[idp.clientSecret.env];
    if (typeof value === "string" && value.length > 0) secrets[idp.clientSecret.env] = value;
    else issues.push({ path: `mcpProvider.identityProviders.${name}.clientSecret.env`, message: `the secret ${idp.clientSecret.env} is not set (wrangler secret put ${idp.clientSecret.env})` });
  }
  for (const [header, ref] of Object.entries(parsed.config.mcpProvider.audit.sink?.headers ?? {})) {
    const value = env[ref.env];
    if (typeof value === "string" && value.length > 0) secrets[ref.env] = value;
    else issues.push({ path: `mcpProvider.audit.sink.headers.${header}.env`, message: `the secret ${ref.env} is not set` });
  }
  if (issues.length) return { ok: false, issues };
  return { ok: true, config: { provider: parsed.config.mcpProvider, apps: parsed.config.apps, secrets } };
}

function configKey(env: GatewayEnv): string {
  return Object.keys(env)
    .sort()
    .map((name) => `${name}=${typeof env[name] === "string" ? env[name] : ""}`)
    .join("\0");
}

export const loadGatewayConfig = memoizeConfig<GatewayEnv, GatewayConfig>(configKey, parseGatewayConfig, (issues) =>
  log("error", "config.invalid", { tier: "gateway", issues, summary: formatIssues(issues) }),
);
