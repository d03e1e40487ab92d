// The auth tier's configuration, from its environment: the configuration document (AUTH_CONFIG,
// else the bundled config/auth.yaml; schema in config-schema.ts), the Redis connection, the
// signing keys (SIGNING_KEYS) and the secrets the document names by `{ env: NAME }`. Every problem
// is reported with its path, never its value (docs/configuration.md).
import bundledConfig from "../../config/auth.yaml";
import {
  formatIssues,
  memoizeConfig,
  parseConfig,
  type ConfigIssue,
  type ConfigResult,
} from "../core/config-loader.js";
import { log } from "../core/log.js";
import { observabilitySecretRefs } from "../core/telemetry/config-schema.js";
import { authConfigSchema, redisEnvSchema, signingKeysSchema, type OidcProviderConfig } from "./config-schema.js";
import type { PrivateJwk } from "./keys.js";
import type { StoreConnection } from "./store/store.js";
import { decodeValueKey } from "./store/value-encryption.js";

/** Bindings of the auth worker: secrets and vars from wrangler.auth.toml / `wrangler secret put`. */
export interface AuthEnv {
  /** Upstash REST endpoint (locally: the Redis bridge from scripts/redis-bridge.ts). */
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  /** The private JWK set the provider signs with (`npm run keys`). */
  SIGNING_KEYS?: string;
  /** A whole configuration document (YAML or JSON) replacing the bundled config/auth.yaml. */
  AUTH_CONFIG?: string;
  /** Client and upstream-IdP secrets, named by `{ env: NAME }` in the configuration. */
  [secret: string]: unknown;
}

export interface AuthConfig {
  provider: OidcProviderConfig;
  redis: StoreConnection;
  signingKeys: { raw: string; keys: PrivateJwk[] };
  /** Values of the secrets the configuration names, by environment variable name. */
  secrets: Record<string, string>;
}

/** The environment variables a configuration names as secrets, with where each is used. */
function secretRefs(provider: OidcProviderConfig): { env: string; path: string }[] {
  const refs = provider.apps.flatMap((app, i) =>
    app.clientSecret ? [{ env: app.clientSecret.env, path: `oidcProvider.apps.${i}.clientSecret.env` }] : [],
  );
  if (provider.login.upstream)
    refs.push({ env: provider.login.upstream.clientSecret.env, path: "oidcProvider.login.upstream.clientSecret.env" });
  refs.push(...observabilitySecretRefs(provider.observability, "oidcProvider.observability"));
  provider.admin.operators.forEach((operator, i) =>
    refs.push({ env: operator.token.env, path: `oidcProvider.admin.operators.${i}.token.env` }),
  );
  refs.push(...encryptionKeyRefs(provider));
  return refs;
}

function encryptionKeyRefs(provider: OidcProviderConfig): { env: string; path: string }[] {
  return (provider.cache.redis.encryption?.keys ?? []).map((k, i) => ({
    env: k.secret.env,
    path: `oidcProvider.cache.redis.encryption.keys.${i}.secret.env`,
  }));
}

/** The Redis value encryption in force, with its keys' material; issues name the path, never a value. */
function redisEncryption(
  provider: OidcProviderConfig,
  secrets: Record<string, string>,
  issues: ConfigIssue[],
): StoreConnection["encryption"] {
  const encryption = provider.cache.redis.encryption;
  if (!encryption) return undefined;
  const refs = encryptionKeyRefs(provider);
  const keys = encryption.keys.map((k, i) => {
    const secret = secrets[k.secret.env];
    if (secret !== undefined && !decodeValueKey(secret)) {
      issues.push({
        path: refs[i]!.path,
        message: `the secret ${k.secret.env} must be 32 bytes, base64url (npm run keys -- --redis-encryption)`,
      });
    }
    return { id: k.id, secret: secret ?? "" };
  });
  return {
    keys,
    ...(encryption.activeKey === undefined ? {} : { activeKey: encryption.activeKey }),
    acceptPlaintext: encryption.acceptPlaintext,
  };
}

function parseSigningKeys(raw: unknown): ConfigResult<PrivateJwk[]> {
  if (typeof raw !== "string" || raw.trim() === "") {
    return {
      ok: false,
      issues: [
        {
          path: "SIGNING_KEYS",
          message: "required: a private JWK set (npm run keys; wrangler secret put SIGNING_KEYS)",
        },
      ],
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, issues: [{ path: "SIGNING_KEYS", message: "not valid JSON" }] };
  }
  const parsed = parseConfig(signingKeysSchema, json);
  if (!parsed.ok) return { ok: false, issues: parsed.issues.map((i) => ({ ...i, path: `SIGNING_KEYS.${i.path}` })) };
  return { ok: true, config: parsed.config.keys as PrivateJwk[] };
}

/** The configuration document in force: AUTH_CONFIG, else the bundled config/auth.yaml. */
export function configDocument(env: AuthEnv): string {
  return typeof env.AUTH_CONFIG === "string" ? env.AUTH_CONFIG : bundledConfig;
}

/** Validates the configuration document and the environment it needs, naming every bad field. */
export function parseAuthConfig(env: AuthEnv): ConfigResult<AuthConfig> {
  const document = parseConfig(authConfigSchema, configDocument(env));
  const redis = parseConfig(redisEnvSchema, {
    UPSTASH_REDIS_REST_URL: env.UPSTASH_REDIS_REST_URL,
    UPSTASH_REDIS_REST_TOKEN: env.UPSTASH_REDIS_REST_TOKEN,
  });
  const keys = parseSigningKeys(env.SIGNING_KEYS);
  const issues: ConfigIssue[] = [document, redis, keys].flatMap((r) => (r.ok ? [] : r.issues));
  const secrets: Record<string, string> = {};
  if (document.ok && keys.ok) {
    // `jwks[].algorithm` says which algorithms may sign; a key of another kind is a mistake.
    const algorithms = new Set(document.config.oidcProvider.jwks.map((k) => k.algorithm));
    keys.config.forEach((key, i) => {
      if (!algorithms.has(key.alg)) {
        issues.push({
          path: `SIGNING_KEYS.keys.${i}.alg`,
          message: `${key.alg} is not among oidcProvider.jwks algorithms (${[...algorithms].join(", ")})`,
        });
      }
    });
  }
  if (document.ok) {
    for (const ref of secretRefs(document.config.oidcProvider)) {
      const value = env[ref.env];
      if (typeof value === "string" && value.length > 0) secrets[ref.env] = value;
      else
        issues.push({ path: ref.path, message: `the secret ${ref.env} is not set (wrangler secret put ${ref.env})` });
    }
  }
  if (document.ok) {
    // An operator's token opens every person's grants: a guessable one is a configuration error.
    document.config.oidcProvider.admin.operators.forEach((operator, i) => {
      const value = secrets[operator.token.env];
      if (value !== undefined && value.length < 32)
        issues.push({
          path: `oidcProvider.admin.operators.${i}.token.env`,
          message: `the secret ${operator.token.env} must be at least 32 characters (openssl rand -base64 32)`,
        });
    });
  }
  const encryption = document.ok ? redisEncryption(document.config.oidcProvider, secrets, issues) : undefined;
  if (!document.ok || !redis.ok || !keys.ok || issues.length > 0) return { ok: false, issues };
  return {
    ok: true,
    config: {
      provider: document.config.oidcProvider,
      redis: {
        url: redis.config.UPSTASH_REDIS_REST_URL,
        token: redis.config.UPSTASH_REDIS_REST_TOKEN,
        ...(encryption ? { encryption } : {}),
      },
      signingKeys: { raw: env.SIGNING_KEYS as string, keys: keys.config },
      secrets,
    },
  };
}

function secretValues(env: AuthEnv): string {
  return Object.keys(env)
    .sort()
    .map((name) => `${name}=${typeof env[name] === "string" ? env[name] : ""}`)
    .join("\0");
}

const loadByContent = memoizeConfig<AuthEnv, AuthConfig>(secretValues, parseAuthConfig, (issues) =>
  log("error", "config.invalid", { tier: "auth", issues, summary: formatIssues(issues) }),
);

let lastEnv: AuthEnv | undefined;
let lastLoaded: ConfigResult<AuthConfig> | undefined;

/**
 * The configuration of `env`, parsed once per content. The runtime hands the same environment
 * object to every request of an isolate, and bindings do not change under it, so the same object
 * is answered without building its content key (every value of the environment joined, the
 * signing keys and the configuration document included: a few kilobytes on every request).
 */
export function loadAuthConfig(env: AuthEnv): ConfigResult<AuthConfig> {
  if (env !== lastEnv || !lastLoaded) {
    lastLoaded = loadByContent(env);
    lastEnv = env;
  }
  return lastLoaded;
}
