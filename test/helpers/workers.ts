// Runs the tiers' real bundles in workerd through Miniflare's API, each on its own loopback port.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare, fetch as miniflareFetch, type Request as MiniflareRequest } from "miniflare";
import { inject } from "vitest";
import { freePort } from "../../scripts/free-port.js";
import { BUILD_DIR, ROOT, type Tier } from "./build.js";
import { captureRuntimeOutput, privateKeyParts } from "./runtime-output.js";

export interface RunningWorker {
  /** Base URL, e.g. http://127.0.0.1:41235 */
  url: string;
  /** The runtime itself, for reaching bindings (e.g. Durable Objects) without HTTP. */
  mf: Miniflare;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Everything the runtime has written so far (its log lines). */
  output(): string;
  dispose(): Promise<void>;
}

export { freePort };

/** The tier's compatibility date and flags, as its wrangler toml declares them. */
function compatibility(tier: Tier): { compatibilityDate: string; compatibilityFlags: string[] } {
  const toml = readFileSync(join(ROOT, `wrangler.${tier}.toml`), "utf8");
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml);
  if (!date) throw new Error(`wrangler.${tier}.toml has no compatibility_date`);
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml);
  return {
    compatibilityDate: date[1]!,
    compatibilityFlags: flags ? [...flags[1]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!) : [],
  };
}

/** Miniflare options that load a tier's bundle from `<buildDir>/<tier>/` (see buildWorkers). */
export function workerOptions(tier: Tier, buildDir = BUILD_DIR) {
  return {
    name: tier,
    modules: true,
    scriptPath: join(buildDir, tier, "index.js"),
    modulesRoot: join(buildDir, tier),
    modulesRules: [
      { type: "ESModule" as const, include: ["**/*.js"] },
      { type: "Text" as const, include: ["**/*.yaml"] },
      { type: "CompiledWasm" as const, include: ["**/*.wasm"] },
    ],
    ...compatibility(tier),
  };
}

async function run(mf: Miniflare, output: string[]): Promise<RunningWorker> {
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return {
    url,
    mf,
    fetch: (path, init) => fetch(url + path, init),
    output: () => output.join(""),
    dispose: () => mf.dispose(),
  };
}

/** The Redis bridge that the global setup started, as the auth tier's Upstash endpoint. */
export function sharedRedis(): { url: string; token: string } {
  return { url: inject("bridgeUrl"), token: inject("bridgeToken") };
}

export interface AuthWorkerOptions {
  redis?: { url: string; token: string };
  /**
   * Replaces config/auth.yaml (AUTH_CONFIG): a document, or a function of the worker's own URL
   * (known before start, so the issuer can be the URL tests reach it at).
   */
  config?: string | ((url: string) => string);
  /** A fixed port (e.g. to restart on the same URL); default a free one. */
  port?: number;
  /** Extra or overriding bindings: client secrets, or undefined to drop one. */
  bindings?: Record<string, string | undefined>;
}

export async function startAuthWorker(options: AuthWorkerOptions = {}): Promise<RunningWorker> {
  const redis = options.redis ?? sharedRedis();
  const bindings: Record<string, string> = {
    UPSTASH_REDIS_REST_URL: redis.url,
    UPSTASH_REDIS_REST_TOKEN: redis.token,
    SIGNING_KEYS: inject("signingKeys"),
    // The key config/auth.yaml encrypts Redis values with (oidcProvider.cache.redis.encryption).
    REDIS_ENCRYPTION_KEY_K1: inject("redisEncryptionKey"),
  };
  for (const [name, value] of Object.entries(options.bindings ?? {})) {
    if (value === undefined) delete bindings[name];
    else bindings[name] = value;
  }
  // A port picked here can still be taken by another test file before workerd binds it; then pick again.
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const url = `http://127.0.0.1:${port}`;
    if (options.config !== undefined)
      bindings.AUTH_CONFIG = typeof options.config === "function" ? options.config(url) : options.config;
    const secrets = [
      redis.token,
      ...privateKeyParts(bindings.SIGNING_KEYS ?? '{"keys":[]}'),
      ...Object.entries(bindings)
        .filter(([name]) => /SECRET|ENCRYPTION_KEY/.test(name))
        .map(([, value]) => value),
    ];
    const output: string[] = [];
    const mf = new Miniflare({
      ...workerOptions("auth"),
      ...captureRuntimeOutput("auth", secrets, (text) => output.push(text)),
      host: "127.0.0.1",
      port,
      bindings,
    });
    try {
      return await run(mf, output);
    } catch (error) {
      await mf.dispose().catch(() => undefined);
      const taken = (error as { code?: string }).code === "ERR_ADDRESS_IN_USE";
      if (!taken || options.port !== undefined || attempt === 3) throw error;
    }
  }
}

export interface GatewayWorkerOptions {
  /** Replaces config/gateway.yaml (GATEWAY_CONFIG). */
  config?: string;
  /** Durable Object storage directory; give the same one to a later runtime to resume its sessions. */
  persistDir?: string;
  /** The auth tier behind the AUTH service binding. */
  auth?: RunningWorker;
  /** Secrets, e.g. the gateway's client secret for token exchange. */
  bindings?: Record<string, string>;
  /** A fixed port (when the gateway's own URL must be known beforehand); default a free one. */
  port?: number;
  /** Leave the PRINCIPAL_LIMITS binding out: the principal's object cannot be asked (a fault). */
  withoutPrincipalLimits?: boolean;
}

export async function startGatewayWorker(options: GatewayWorkerOptions = {}): Promise<RunningWorker> {
  const auth = options.auth;
  const secrets = Object.entries(options.bindings ?? {})
    .filter(([name]) => /SECRET|TOKEN|KEY/.test(name))
    .map(([, value]) => value);
  const output: string[] = [];
  const mf = new Miniflare({
    ...workerOptions("gateway"),
    ...captureRuntimeOutput("gateway", secrets, (text) => output.push(text)),
    host: "127.0.0.1",
    port: options.port ?? 0,
    bindings: { ...options.bindings, ...(options.config === undefined ? {} : { GATEWAY_CONFIG: options.config }) },
    durableObjects: {
      MCP_SESSION: { className: "McpSession", useSQLite: true },
      AUDIT_OUTBOX: { className: "AuditOutbox", useSQLite: true },
      ...(options.withoutPrincipalLimits
        ? {}
        : { PRINCIPAL_LIMITS: { className: "PrincipalLimits", useSQLite: true } }),
      PRINCIPAL_CONTEXT: { className: "PrincipalContext", useSQLite: true },
    },
    durableObjectsPersist: options.persistDir ?? false,
    serviceBindings: {
      // The real auth tier in its own runtime; requests cross loopback HTTP as a binding would cross the platform.
      AUTH: async (request: MiniflareRequest) => {
        if (!auth) return new Response("auth tier not started in this test", { status: 503 });
        const url = new URL(request.url);
        return miniflareFetch(auth.url + url.pathname + url.search, request);
      },
    },
  });
  return run(mf, output);
}
