// Starts scenario 8's peers (docs/performance.md, Peers), each in a process of its own so that its
// CPU per request is read apart from everything else: a workerd (one Miniflare each) for
// workers-oauth-provider, for an McpAgent and for this project's auth tier alone, and a Node
// process for oidc-provider. Bundled from the installed packages by wrangler, as the bench bundles
// its own worker; everything listens on loopback ports picked free.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { Miniflare, type WorkerOptions } from "miniflare";
import { bundleWorker, ROOT } from "../../../test/helpers/build.js";
import { freePort } from "../../../test/helpers/workers.js";
import { childPids } from "./process-cpu.js";

/** A peer (or this project's tier) in its own process. */
export interface PeerProcess {
  url: string;
  /** Its workerd or Node process: the one whose CPU counts. */
  pid: number;
  dispose(): Promise<void>;
}

const PEERS_DIR = join("scripts", "bench", "peers");

/** The peer workers and the floor into `<buildDir>/peer-oauth-provider/`, `peer-mcp-agent/` and `peer-floor/`, one after the other. */
export async function buildPeers(buildDir: string): Promise<void> {
  await bundleWorker(join(PEERS_DIR, "wrangler.oauth-provider.toml"), join(buildDir, "peer-oauth-provider"));
  await bundleWorker(join(PEERS_DIR, "wrangler.mcp-agent.toml"), join(buildDir, "peer-mcp-agent"));
  await bundleWorker(join(PEERS_DIR, "wrangler.floor.toml"), join(buildDir, "peer-floor"));
}

const COMPATIBILITY = { compatibilityDate: "2026-07-01", compatibilityFlags: ["nodejs_compat"] };

/**
 * One worker alone in a new workerd, reached on its own socket. Its process is the workerd child
 * that was not there before: Miniflares are started one at a time.
 */
export async function startAlone(
  worker: WorkerOptions | ((port: number) => WorkerOptions),
  log: (line: string) => void = () => undefined,
  extra: { durableObjectsPersist?: string; inspectorPort?: number } = {},
): Promise<PeerProcess & { port: number }> {
  const port = await freePort();
  // A worker whose configuration names its own URL (an issuer) is given its port first.
  const options = typeof worker === "function" ? worker(port) : worker;
  const before = new Set(childPids("workerd"));
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    ...extra,
    handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
      // Standard output is the workers' own logs (the auth tier's audit lines): dropped unread.
      stdout.resume();
      // Warnings and errors are shown (a benchmark that hides them hides its failures), except the
      // notice workers-oauth-provider prints at every start about a feature the bench does not use.
      createInterface({ input: stderr }).on(
        "line",
        (line) =>
          line.includes("CIMD (Client ID Metadata Document) is disabled") ||
          log(`  workerd (${options.name}): ${line}`),
      );
    },
    workers: [{ ...options, unsafeDirectSockets: [{ host: "127.0.0.1", port }] } as WorkerOptions],
  });
  await mf.ready;
  const pid = childPids("workerd").find((p) => !before.has(p));
  if (pid === undefined) {
    await mf.dispose();
    throw new Error(`no new workerd process for ${options.name}`);
  }
  return { url: `http://127.0.0.1:${port}`, port, pid, dispose: () => mf.dispose() };
}

/** workers-oauth-provider with Miniflare's local KV ("kv") or its KV swapped for a Map ("memory"). */
export function startOAuthProviderPeer(buildDir: string, store: "kv" | "memory", log?: (line: string) => void) {
  const dir = join(buildDir, "peer-oauth-provider");
  return startAlone(
    {
      name: `oauth-provider-${store}`,
      modules: true,
      scriptPath: join(dir, "oauth-provider-worker.js"),
      modulesRoot: dir,
      ...COMPATIBILITY,
      kvNamespaces: { OAUTH_KV: "bench-peer-oauth-kv" },
      bindings: { STORE: store },
    },
    log,
  );
}

/** The platform floor (floor-worker.ts), its store request sent to `store`. */
export function startFloor(buildDir: string, store: { url: string; token: string }, log?: (line: string) => void) {
  const dir = join(buildDir, "peer-floor");
  return startAlone(
    {
      name: "floor",
      modules: true,
      scriptPath: join(dir, "floor-worker.js"),
      modulesRoot: dir,
      ...COMPATIBILITY,
      bindings: { STORE_URL: store.url, STORE_TOKEN: store.token },
    },
    log,
  );
}

/** agents' McpAgent serving `echo` at /mcp, its Durable Objects' SQLite on tmpfs like the gateway's in the bench. */
export async function startMcpAgentPeer(buildDir: string, log?: (line: string) => void) {
  const dir = join(buildDir, "peer-mcp-agent");
  const storage = mkdtempSync(join("/dev/shm", "aig-bench-peer-"));
  const peer = await startAlone(
    {
      name: "mcp-agent",
      modules: true,
      scriptPath: join(dir, "mcp-agent-worker.js"),
      modulesRoot: dir,
      ...COMPATIBILITY,
      durableObjects: { MCP_OBJECT: { className: "EchoAgent", useSQLite: true } },
    },
    log,
    { durableObjectsPersist: storage },
  );
  return {
    ...peer,
    dispose: async () => {
      await peer.dispose();
      rmSync(storage, { recursive: true, force: true });
    },
  };
}

/** oidc-provider in a Node process of its own (oidc-provider-server.ts). */
export async function startOidcProviderPeer(
  log: (line: string) => void = () => undefined,
): Promise<PeerProcess & { clientId: string; clientSecret: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(PEERS_DIR, "oidc-provider-server.ts")], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  process.once("exit", () => child.kill());
  // Its errors are shown; its notice that it keeps state in memory (as the bench means it to) is not.
  createInterface({ input: child.stderr! }).on(
    "line",
    (line) => line.includes("development-only in-memory adapter") || log(`  oidc-provider: ${line}`),
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (l) => l.startsWith("listening ") && resolve(l));
    child.once("exit", (code) => reject(new Error(`oidc-provider exited (${code})`)));
  });
  const [, url, clientId, clientSecret] = line.split(" ") as [string, string, string, string];
  return {
    url,
    pid: child.pid!,
    clientId,
    clientSecret,
    async dispose() {
      child.kill("SIGTERM");
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    },
  };
}
