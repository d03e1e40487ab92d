// Everything the scenarios run against, started once per run on loopback:
//
//   Node (this process): load generator, fast MCP upstream
//   Node (child process): the Upstash-protocol Redis bridge, in front of the real Redis
//   workerd (one Miniflare): gateway ─AUTH binding─▶ auth ◀─AUTH binding─ bench worker
//                            auth-far: the same auth tier, its Redis behind a proxy that adds
//                            STORE_LATENCY_MS to every command (a store a round trip away)
//
// Unlike the tests' stack (test/helpers/gateway-stack.ts), whose AUTH binding is a Node function
// relaying over loopback HTTP so that tests can restart one tier alone, here the gateway and the
// bench worker reach the auth tier through real service bindings inside one workerd, as they do
// when deployed on one account: no Node hop in the token exchange path. The bridge runs in its own
// process so that the load generator and the Redis round trips do not share one event loop.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { Miniflare } from "miniflare";
import { authConfig, confidentialClient, GATEWAY_RESOURCE } from "../../test/helpers/auth-config.js";
import { bundleWorker, buildWorkers, ROOT } from "../../test/helpers/build.js";
import { GATEWAY_CLIENT, gatewayConfig } from "../../test/helpers/gateway-stack.js";
import { REDIS_URL, requireRedis } from "../../test/helpers/redis.js";
import { startStoreFaultProxy, type StoreFaultProxy } from "../../test/helpers/store-fault-proxy.js";
import { freePort, workerOptions } from "../../test/helpers/workers.js";
import { generateSigningKey } from "../keys.js";
import { startFastUpstream, type FastUpstream } from "./fast-upstream.js";

export const BENCH_BUILD_DIR = join(ROOT, ".build", "bench");
/** The audience of the upstream's exchanged tokens. */
export const UPSTREAM_AUDIENCE = "https://api.bench.test";
/** The round trip the far store's proxy adds to every Redis command (scenario 7). */
export const STORE_LATENCY_MS = 20;
/**
 * Agents registered with the auth tier, each its own principal (issuer + `sub` + `client_id`):
 * the scale scenario spreads 10,000 live sessions over them so that no principal's session limit
 * and no one principal's object carries them all (scripts/bench/scale.ts).
 */
export const BENCH_AGENTS = 10;
/** Tool names as agents see them: the same upstream tool behind two apps. */
export const TOOLS = { warm: "warm__echo", cold: "cold__echo" } as const;

/** What the gateway's audit log says about tool calls (its own record of every exchange). */
export interface AuditCounts {
  calls: number;
  /** Calls that needed a fresh token exchange (`token_cached: false`). */
  exchanges: number;
  /** Calls whose outcome was not `success`. */
  failures: number;
  outcomes: Record<string, number>;
}

export interface BenchStack {
  gatewayUrl: string;
  authUrl: string;
  benchUrl: string;
  tokenEndpoint: string;
  mf: Miniflare;
  /** The Redis bridge (Upstash REST protocol) the auth tier uses. */
  redis: { url: string; token: string };
  /**
   * The same auth tier with its store STORE_LATENCY_MS away: its issuer (and token endpoint under
   * it), and the proxy in front of its Redis bridge, whose log counts the MGETs it sends.
   */
  farAuth: { url: string; tokenEndpoint: string; store: StoreFaultProxy };
  upstream: FastUpstream;
  /** The gateway's client credentials, for token exchanges made by the benchmark itself. */
  exchangeClient: { authorization: string };
  /** A fresh access token for agent `index` (0 unless told; below BENCH_AGENTS), for the gateway's resource. */
  agentToken(index?: number): Promise<string>;
  /** The private JWK sets (one per algorithm) the bench worker's crypto loops use. */
  benchKeys: Record<"ES256" | "EdDSA", string>;
  /** Audit counters since the last reset. */
  audit: { counts(): AuditCounts; reset(): void };
  versions: { workerd: string; miniflare: string };
  /** Where the session Durable Objects' SQLite lives: tmpfs or this machine's disk. */
  doStorage: "memory" | "disk";
  /** The directory holding the Durable Objects' SQLite files (scenario 6 reads their size). */
  doStorageDir: string;
  dispose(): Promise<void>;
}

export interface StackOptions {
  /** Open workerd's inspector on this port (for profiling with Chrome DevTools). */
  inspectorPort?: number;
  /** Reuse the bundles of the previous run (.build/bench/), e.g. while profiling. */
  skipBuild?: boolean;
  /**
   * Where session Durable Objects keep their SQLite: "memory" (tmpfs, the default where /dev/shm
   * exists) or "disk" (this machine's disk, where every commit waits for a flush).
   */
  doStorage?: "memory" | "disk";
  log?: (line: string) => void;
}

/** The workerd that Miniflare runs (its own pinned copy, not wrangler's). */
function runtimeVersions(): { workerd: string; miniflare: string } {
  const fromMiniflare = createRequire(createRequire(import.meta.url).resolve("miniflare"));
  const version = (pkg: string) => (fromMiniflare(pkg) as { version: string }).version;
  return { workerd: version("workerd/package.json"), miniflare: version("miniflare/package.json") };
}

async function startBridgeProcess(token: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", join("scripts", "redis-bridge.ts")], {
    cwd: ROOT,
    env: { ...process.env, UPSTASH_REDIS_REST_TOKEN: token, BRIDGE_PORT: String(port), REDIS_URL },
    stdio: ["ignore", "pipe", "inherit"],
  });
  // A bridge that outlives an interrupted run would hold its port and a Redis connection.
  process.once("exit", () => child.kill());
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<void>((resolve, reject) => {
    lines.on("line", (line) => line.includes("listening") && resolve());
    child.once("exit", (code) => reject(new Error(`the Redis bridge exited (${code})`)));
  });
  await ready;
  return { url: `http://127.0.0.1:${port}`, child };
}

function auditTap(stdout: Readable, stderr: Readable, log: (line: string) => void) {
  let counts: AuditCounts;
  const reset = () => (counts = { calls: 0, exchanges: 0, failures: 0, outcomes: {} });
  reset();
  createInterface({ input: stdout }).on("line", (line) => {
    if (!line.includes('"audit.tool_call"')) return;
    const event = JSON.parse(line.slice(line.indexOf("{"))) as { outcome: string; token_cached?: boolean };
    counts.calls++;
    if (event.token_cached === false) counts.exchanges++;
    if (event.outcome !== "success") counts.failures++;
    counts.outcomes[event.outcome] = (counts.outcomes[event.outcome] ?? 0) + 1;
  });
  // Warnings and errors of the runtime are shown: a benchmark that hides them hides its failures.
  createInterface({ input: stderr }).on("line", (line) => log(`  workerd: ${line}`));
  return { counts: () => ({ ...counts, outcomes: { ...counts.outcomes } }), reset };
}

function outboundApp(name: string, url: string, cache: boolean) {
  return {
    name,
    type: "mcpProxy",
    upstream: { transport: "stream", stream: { url } },
    timeout: "10s",
    authorization: {
      // The example policy that decides by scope; it evaluates on every call once policy is enforced.
      inbound: { opa: { name: "scopes" } },
      outbound: {
        type: "tokenExchange",
        tokenExchange: {
          type: "delegation",
          idp: "auth",
          audience: UPSTREAM_AUDIENCE,
          cache,
          defaults: { ttl: "5s", scopes: [{ name: "tools:read" }] },
        },
      },
    },
  };
}

export async function startBenchStack(options: StackOptions = {}): Promise<BenchStack> {
  const log = options.log ?? console.log;
  await requireRedis();
  if (!options.skipBuild) {
    await buildWorkers(BENCH_BUILD_DIR);
    await bundleWorker(join("scripts", "bench", "wrangler.bench.toml"), join(BENCH_BUILD_DIR, "bench"));
  }

  const redisToken = randomBytes(24).toString("base64url");
  const [bridge, upstream, es256, eddsa, authPort, benchPort, gatewayPort, farAuthPort] = await Promise.all([
    startBridgeProcess(redisToken),
    startFastUpstream(),
    generateSigningKey("ES256"),
    generateSigningKey("EdDSA"),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const farStore = await startStoreFaultProxy(bridge.url);
  farStore.setLatency(STORE_LATENCY_MS);
  const farIssuer = `http://127.0.0.1:${farAuthPort}`;
  // A Durable Object's output gate holds each answer until its writes are committed; on this
  // machine's disk every commit is a flush of several milliseconds, which is not what the platform's
  // storage costs. tmpfs keeps SQLite, its transactions and the output gates, without the flush.
  const doStorage = options.doStorage ?? (existsSync("/dev/shm") ? "memory" : "disk");
  const doStorageDir = mkdtempSync(join(doStorage === "memory" ? "/dev/shm" : tmpdir(), "aig-bench-"));
  const issuer = `http://127.0.0.1:${authPort}`;
  const agents = Array.from({ length: BENCH_AGENTS }, (_, i) =>
    confidentialClient(i === 0 ? "bench-agent" : `bench-agent-${i}`, { grantTypes: ["client_credentials"] }),
  );
  const agentApps = agents.map((a) => a.app);
  const agentBindings = Object.assign({}, ...agents.map((a) => a.bindings)) as Record<string, string>;
  const gatewayClient = { ...GATEWAY_CLIENT.app, allowedAudiences: [UPSTREAM_AUDIENCE] };
  const benchKeys = { ES256: JSON.stringify({ keys: [es256] }), EdDSA: JSON.stringify({ keys: [eddsa] }) };
  let tap: ReturnType<typeof auditTap> | undefined;

  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    durableObjectsPersist: doStorageDir,
    ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
    handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
      tap = auditTap(stdout, stderr, log);
    },
    workers: [
      {
        ...workerOptions("gateway", BENCH_BUILD_DIR),
        bindings: {
          ...GATEWAY_CLIENT.bindings,
          GATEWAY_CONFIG: gatewayConfig(issuer, {
            apps: [outboundApp("warm", upstream.url, true), outboundApp("cold", upstream.url, false)],
            // Agent 0 opens most sessions of the benchmark (700 in scenario 6, 1,000 more with
            // --scale): the per-principal session limit stays on, with its cost, but above what
            // one agent opens; --scale spreads its 10,000 sessions over BENCH_AGENTS principals.
            limits: { sessionsPerPrincipal: 10_000 },
          }),
        },
        durableObjects: {
          MCP_SESSION: { className: "McpSession", useSQLite: true },
          PRINCIPAL_LIMITS: { className: "PrincipalLimits", useSQLite: true },
          PRINCIPAL_CONTEXT: { className: "PrincipalContext", useSQLite: true },
        },
        serviceBindings: { AUTH: "auth" },
        // Agents reach the worker itself, as on the platform, not through Miniflare's entry worker.
        unsafeDirectSockets: [{ host: "127.0.0.1", port: gatewayPort }],
      },
      {
        ...workerOptions("auth", BENCH_BUILD_DIR),
        bindings: {
          UPSTASH_REDIS_REST_URL: bridge.url,
          UPSTASH_REDIS_REST_TOKEN: redisToken,
          SIGNING_KEYS: benchKeys.ES256,
          AUTH_CONFIG: authConfig(issuer, { resources: [GATEWAY_RESOURCE], apps: [gatewayClient, ...agentApps] }),
          ...GATEWAY_CLIENT.bindings,
          ...agentBindings,
        },
        // Its own socket, so that the issuer URL is known before start and HTTP skips the entry worker.
        unsafeDirectSockets: [{ host: "127.0.0.1", port: authPort }],
      },
      {
        ...workerOptions("auth", BENCH_BUILD_DIR),
        name: "auth-far",
        bindings: {
          UPSTASH_REDIS_REST_URL: farStore.url,
          UPSTASH_REDIS_REST_TOKEN: redisToken,
          SIGNING_KEYS: benchKeys.ES256,
          AUTH_CONFIG: authConfig(farIssuer, { resources: [GATEWAY_RESOURCE], apps: [gatewayClient, ...agentApps] }),
          ...GATEWAY_CLIENT.bindings,
          ...agentBindings,
        },
        unsafeDirectSockets: [{ host: "127.0.0.1", port: farAuthPort }],
      },
      {
        name: "bench",
        modules: true,
        scriptPath: join(BENCH_BUILD_DIR, "bench", "bench-worker.js"),
        modulesRoot: join(BENCH_BUILD_DIR, "bench"),
        compatibilityDate: workerOptions("auth").compatibilityDate,
        bindings: { BENCH_KEYS: JSON.stringify(benchKeys) },
        durableObjects: { FLOOR: { className: "FloorSession", useSQLite: true } },
        serviceBindings: { AUTH: "auth" },
        unsafeDirectSockets: [{ host: "127.0.0.1", port: benchPort }],
      },
    ],
  });
  await mf.ready;

  const tokenEndpoint = `${issuer}/token`;
  return {
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    authUrl: issuer,
    benchUrl: `http://127.0.0.1:${benchPort}`,
    tokenEndpoint,
    mf,
    redis: { url: bridge.url, token: redisToken },
    farAuth: { url: farIssuer, tokenEndpoint: `${farIssuer}/token`, store: farStore },
    upstream,
    exchangeClient: {
      authorization: `Basic ${btoa(`${GATEWAY_CLIENT.client.clientId}:${GATEWAY_CLIENT.client.secret}`)}`,
    },
    benchKeys,
    async agentToken(index = 0) {
      const agent = agents[index];
      if (!agent) throw new Error(`no bench agent ${index} (there are ${BENCH_AGENTS})`);
      const res = await fetch(tokenEndpoint, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Authorization: `Basic ${btoa(`${agent.client.clientId}:${agent.client.secret}`)}`,
        },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          resource: GATEWAY_RESOURCE,
          scope: "tools:read tools:write",
        }),
      });
      const body = (await res.json()) as { access_token?: string };
      if (!res.ok || !body.access_token)
        throw new Error(`client_credentials failed: ${res.status} ${JSON.stringify(body)}`);
      return body.access_token;
    },
    audit: { counts: () => tap!.counts(), reset: () => tap!.reset() },
    versions: runtimeVersions(),
    doStorage,
    doStorageDir,
    async dispose() {
      await mf.dispose();
      rmSync(doStorageDir, { recursive: true, force: true });
      await upstream.close();
      await farStore.close();
      bridge.child.kill("SIGTERM");
      if (bridge.child.exitCode === null) await once(bridge.child, "exit");
    },
  };
}
