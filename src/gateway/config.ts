// The gateway's configuration, from its environment: the configuration document (GATEWAY_CONFIG,
// else the bundled config/gateway.yaml; schemas in config-schema.ts and apps-schema.ts) and the
// secrets it names by `{ env: NAME }`. Every problem is reported with its path, never its value
// (docs/configuration.md).
import bundledConfig from "../../config/gateway.yaml";
import {
  formatIssues,
  memoizeConfig,
  parseConfig,
  type ConfigIssue,
  type ConfigResult,
} from "../core/config-loader.js";
import { ConfigError } from "../core/errors.js";
import { log } from "../core/log.js";
import { observabilitySecretRefs } from "../core/telemetry/config-schema.js";
import { setupTelemetry } from "../core/telemetry/telemetry.js";
import type { AppConfig } from "./apps-schema.js";
import { gatewayConfigSchema, type McpProviderConfig } from "./config-schema.js";
import type { GatewayEnv } from "./env.js";

export type { GatewayEnv };

export interface GatewayConfig {
  provider: McpProviderConfig;
  apps: AppConfig[];
  /** Values of the secrets the configuration names, by environment variable name. */
  secrets: Record<string, string>;
}

/** The environment variables the configuration names as secrets, with where each is used. */
function secretRefs(provider: McpProviderConfig): { env: string; path: string }[] {
  return [
    ...Object.entries(provider.identityProviders).map(([name, idp]) => ({
      env: idp.clientSecret.env,
      path: `mcpProvider.identityProviders.${name}.clientSecret.env`,
    })),
    ...Object.entries(provider.audit.sink?.headers ?? {}).map(([header, ref]) => ({
      env: ref.env,
      path: `mcpProvider.audit.sink.headers.${header}.env`,
    })),
    ...observabilitySecretRefs(provider.observability, "mcpProvider.observability"),
  ];
}

/** The configuration document in force: GATEWAY_CONFIG, else the bundled config/gateway.yaml. */
export function configDocument(env: GatewayEnv): string {
  return env.GATEWAY_CONFIG ?? bundledConfig;
}

export function parseGatewayConfig(env: GatewayEnv): ConfigResult<GatewayConfig> {
  const parsed = parseConfig(gatewayConfigSchema, configDocument(env));
  if (!parsed.ok) return parsed;
  const issues: ConfigIssue[] = [];
  const secrets: Record<string, string> = {};
  for (const ref of secretRefs(parsed.config.mcpProvider)) {
    const value = env[ref.env];
    if (typeof value === "string" && value.length > 0) secrets[ref.env] = value;
    else issues.push({ path: ref.path, message: `the secret ${ref.env} is not set (wrangler secret put ${ref.env})` });
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

const loadByContent = memoizeConfig<GatewayEnv, GatewayConfig>(configKey, parseGatewayConfig, (issues) =>
  log("error", "config.invalid", { tier: "gateway", issues, summary: formatIssues(issues) }),
);

let lastEnv: GatewayEnv | undefined;
let lastLoaded: ConfigResult<GatewayConfig> | undefined;

/**
 * The configuration of `env`, parsed once per content. The runtime hands the same environment
 * object to every request of an isolate and to a Durable Object for its life, and bindings do
 * not change under it, so the same object is answered without building its content key (the
 * environment's every value joined: most of what a warm request spent here).
 */
export function loadGatewayConfig(env: GatewayEnv): ConfigResult<GatewayConfig> {
  if (env !== lastEnv || !lastLoaded) {
    lastLoaded = loadByContent(env);
    lastEnv = env;
  }
  return lastLoaded;
}

/**
 * The configuration as a Durable Object reads it: a Durable Object may run in an isolate where the
 * front never did, so telemetry is set up here too; an invalid configuration throws.
 */
export function loadObjectConfig(env: GatewayEnv): GatewayConfig {
  const loaded = loadGatewayConfig(env);
  if (!loaded.ok) throw new ConfigError("gateway", loaded.issues);
  setupTelemetry("ai-identity-gateway", loaded.config.provider.observability, loaded.config.secrets);
  return loaded.config;
}
