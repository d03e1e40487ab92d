// npm run dev: the whole stack on this machine.
//   Redis       REDIS_URL (default redis://127.0.0.1:6379), else a private redis-server;
//               or Upstash itself when UPSTASH_REDIS_REST_URL / _TOKEN are set
//   bridge      Upstash REST protocol in front of that Redis (scripts/redis-bridge.ts)
//   demo        upstream APIs and an audit collector (scripts/demo-upstreams.ts) on DEMO_MCP_PORT (9001),
//               DEMO_REST_PORT (9002), DEMO_AUDIT_PORT (9003); `npm run agent` listens on AGENT_PORT (9004),
//               the one loopback origin the dev auth tier fetches client ID metadata documents from
//   auth tier   wrangler dev -c wrangler.auth.toml     on AUTH_PORT (8788)
//   gateway     wrangler dev -c wrangler.gateway.toml  on GATEWAY_PORT (8787), AUTH bound to the auth tier
// `npm run dev -- --only auth|gateway|demo` runs one part alone (docs/dev-stack.md): the auth tier
// with its Redis, the gateway, or the demo upstreams; secrets another part must share come from
// the environment (GATEWAY_CLIENT_SECRET, DEMO_AGENT_SECRET, DEV_AUDIT_TOKEN, SIGNING_KEYS).
// Both tiers get config/*.dev.yaml (scripts/dev-stack.ts, which the end-to-end tests share). Durable
// Object storage is .wrangler/state unless DEV_PERSIST_DIR names another directory; wrangler's dev
// registry, through which the gateway's AUTH binding finds the auth tier, is the stack's own:
// <storage>/registry unless WRANGLER_REGISTRY_PATH names another. Once up, it prints how to
// connect and leaves that in DEV_STACK_FILE for `npm run agent`.
// Once up, it supervises its tiers (docs/dev-stack.md, docs/local-development.md): a tier whose wrangler exits, or whose
// /status stops answering (wrangler's proxy can keep the port open with nothing behind it), is
// stopped and started again on the same port with the same env file; a tier that needs more than
// DEV_MAX_RESTARTS (3) restarts within a minute stops the whole stack with a message naming it.
// Ctrl-C stops everything it started.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { startDemoUpstreams, type DemoUpstreams } from "./demo-upstreams.js";
import { forgetDeadRegistration, workerName } from "./dev-registry.js";
import {
  connectHelp,
  DEV_STACK_FILE,
  devAuditToken,
  devClientSecrets,
  devConfigs,
  devPortsFromEnv,
  devRegistryPath,
  devSecretFiles,
  devStackInfo,
  oneTierHelp,
  parseDevArgs,
  writeDevStackInfo,
} from "./dev-stack.js";
import { freePort } from "./free-port.js";
import { generateSigningKey } from "./keys.js";
import { startRedisBridge, type RedisBridge } from "./redis-bridge.js";

const ONLY = (() => {
  try {
    return parseDevArgs(process.argv.slice(2)).only;
  } catch (err) {
    process.stderr.write(`[dev] ${(err as Error).message}\n`);
    process.exit(2);
  }
})();
const PORTS = devPortsFromEnv();
const { auth: AUTH_PORT, gateway: GATEWAY_PORT } = PORTS;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

const children = new Set<ChildProcess>();
let bridge: RedisBridge | undefined;
let stopping = false;
let demo: DemoUpstreams | undefined;

function say(line: string) {
  process.stdout.write(`[dev] ${line}\n`);
}

async function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1_000);
    socket.once("connect", () => {
      socket.write("PING\r\n");
    });
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString().startsWith("+PONG") || data.toString().startsWith("-NOAUTH"));
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}

// Durable Object storage: .wrangler/state, or DEV_PERSIST_DIR.
const PERSIST_DIR = process.env.DEV_PERSIST_DIR || join(import.meta.dirname, "..", ".wrangler", "state");
// wrangler's dev registry, where each `wrangler dev` announces its worker and a service binding
// finds the worker it names. Wrangler's default is one per user, shared by every checkout: a second
// stack's gateway would bind to the first stack's auth tier. This stack's is its own.
const REGISTRY_PATH = devRegistryPath(process.env, PERSIST_DIR);
// No telemetry, and no fetch of Cloudflare's Request.cf sample: local dev works offline. Env files
// given with --env-file are how the secrets arrive, so wrangler must read them.
const childEnv = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "true",
  WRANGLER_REGISTRY_PATH: REGISTRY_PATH,
};
// The tiers' secrets, in owner-only files for the time the stack runs (never on a command line).
const secretFiles = devSecretFiles();
process.on("exit", () => secretFiles.remove());

/** Starts `command`; when it exits on its own, `onExit` runs (by default: the whole stack stops). */
function start(name: string, command: string, args: string[], onExit?: (how: string) => void): ChildProcess {
  // Own process group, so stopping it also stops what it spawned (wrangler runs workerd).
  const child = spawn(command, args, { stdio: ["ignore", "inherit", "inherit"], env: childEnv, detached: true });
  children.add(child);
  child.once("exit", (code, signal) => {
    children.delete(child);
    if (stopping) return;
    const how = `exited (${signal ?? code})`;
    if (onExit) return onExit(how);
    say(`${name} ${how}; stopping the stack`);
    void stop(1);
  });
  return child;
}

/** Milliseconds from the environment variable `name`, else `fallback`. */
function setting(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

// How the running tiers are watched: a probe of /status every DEV_PROBE_INTERVAL_MS, given
// DEV_PROBE_TIMEOUT_MS to answer (any HTTP answer counts: a 503 for Redis down is the tier
// speaking); DEV_PROBE_FAILURES probes in a row without an answer mean the tier is hung. Restarts
// are bounded: a tier failing again after DEV_MAX_RESTARTS restarts within DEV_RESTART_WINDOW_MS
// stops the stack, since restarting will not cure what keeps killing it.
const PROBE_INTERVAL_MS = setting("DEV_PROBE_INTERVAL_MS", 2_000);
const PROBE_TIMEOUT_MS = setting("DEV_PROBE_TIMEOUT_MS", 2_000);
const PROBE_FAILURES = setting("DEV_PROBE_FAILURES", 3);
const MAX_RESTARTS = setting("DEV_MAX_RESTARTS", 3);
const RESTART_WINDOW_MS = setting("DEV_RESTART_WINDOW_MS", 60_000);
const STOP_GRACE_MS = 3_000;

/** A tier under supervision: wrangler dev on a fixed port, restartable with the same arguments. */
interface Tier {
  name: string;
  port: number;
  /** wrangler's arguments for one start (a fresh inspector port each time; the same env file). */
  args: () => Promise<string[]>;
  child?: ChildProcess;
  /** When the restarts of the last RESTART_WINDOW_MS happened. */
  restarts: number[];
  /** Probes in a row that got no answer. */
  missed: number;
  probing: boolean;
  /** Being stopped or started by the supervisor: neither probed nor restarted meanwhile. */
  busy: boolean;
  /** The worker's name in wrangler's dev registry (its wrangler configuration's `name`). */
  worker: string;
  /** Counts the tier's starts, so that a check begun after one start can tell a later one began. */
  starts: number;
}

const tiers: Tier[] = [];
let supervising = false;

function tier(name: string, port: number, config: string, args: () => Promise<string[]>): Tier {
  const worker = workerName(readFileSync(join(import.meta.dirname, "..", config), "utf8"));
  const t: Tier = { name, port, args, restarts: [], missed: 0, probing: false, busy: false, worker, starts: 0 };
  tiers.push(t);
  return t;
}

async function startTier(t: Tier): Promise<void> {
  // A dead wrangler's entry would keep the new one out of the registry for up to 90 s, and the
  // gateway's binding dialing the dead runtime (scripts/dev-registry.ts).
  if (await forgetDeadRegistration(REGISTRY_PATH, t.worker))
    say(`${t.name}: removed the dev registry entry a stopped wrangler left for ${t.worker}`);
  t.starts += 1;
  const child = start(t.name, wranglerBin, await t.args(), (how) => {
    // An exit the supervisor caused (it replaced this child) needs nothing more.
    if (t.child !== child) return;
    if (!supervising) {
      say(`${t.name} ${how}; stopping the stack`);
      void stop(1);
      return;
    }
    void restartTier(t, `its wrangler ${how}`);
  });
  t.child = child;
}

/** True once no process of `pgid` is left. */
function groupGone(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return false;
  } catch {
    return true;
  }
}

/**
 * Stops every process of the tier's current wrangler (its process group: wrangler, its proxy
 * runtime, the worker's runtime), SIGTERM first and SIGKILL after STOP_GRACE_MS, and waits until
 * none is left, so that the port is free for the next start.
 */
async function stopTierProcesses(t: Tier): Promise<void> {
  const pgid = t.child?.pid;
  t.child = undefined;
  if (!pgid) return;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pgid, name);
    } catch {
      // none left
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + STOP_GRACE_MS;
  while (!groupGone(pgid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  signal("SIGKILL");
  while (!groupGone(pgid)) await new Promise((resolve) => setTimeout(resolve, 100));
}

/** Replaces a failed tier, or stops the stack when it has failed too often to be worth it. */
async function restartTier(t: Tier, reason: string): Promise<void> {
  if (t.busy || stopping) return;
  t.busy = true;
  const now = Date.now();
  t.restarts = t.restarts.filter((at) => now - at < RESTART_WINDOW_MS);
  if (t.restarts.length >= MAX_RESTARTS) {
    say(
      `${t.name} on port ${t.port} failed again (${reason}) after ${t.restarts.length} restarts within ${RESTART_WINDOW_MS / 1000} s; stopping the stack.`,
    );
    say(
      `Look at the ${t.name}'s output above for the cause (a crash, a port taken, Redis unreachable), fix it, and run npm run dev again.`,
    );
    void stop(1);
    return;
  }
  t.restarts.push(now);
  say(
    `${t.name} on port ${t.port}: ${reason}; restarting it (restart ${t.restarts.length} of at most ${MAX_RESTARTS} within ${RESTART_WINDOW_MS / 1000} s)`,
  );
  await replaceTier(t);
}

/**
 * Stops the tier's processes, starts it again and waits for its /status; true once it answers.
 * A tier that does not come back goes through restartTier again (bounded there).
 */
async function replaceTier(t: Tier): Promise<boolean> {
  const started = Date.now();
  try {
    await stopTierProcesses(t);
    await startTier(t);
    await waitForStatus(t.name, `http://127.0.0.1:${t.port}/status`, true, t.child);
  } catch (err) {
    t.busy = false;
    void restartTier(t, (err as Error).message);
    return false;
  }
  if (stopping) return false;
  t.missed = 0;
  t.busy = false;
  say(
    `${t.name} is answering again on port ${t.port} (${((Date.now() - started) / 1000).toFixed(1)} s after the restart began)`,
  );
  if (t.port === AUTH_PORT && ONLY === "all" && !(await gatewayReachesAuth(t, t.starts))) {
    // The gateway's AUTH service binding finds the auth tier through wrangler's dev registry
    // (scripts/dev-registry.ts): a stack whose gateway would answer every agent with 503 stops.
    say(
      `the gateway on port ${GATEWAY_PORT} does not reach the restarted auth tier through its AUTH binding; stopping the stack. Run npm run dev again.`,
    );
    await stop(1);
  }
  return true;
}

/**
 * Whether the gateway's /status says it reaches the auth tier `auth`, within half a minute. A
 * check that a later restart of the tier overtakes (its `starts` moved on) has nothing to judge.
 */
async function gatewayReachesAuth(auth: Tier, starts: number): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  const superseded = () => stopping || auth.starts !== starts || auth.busy;
  while (Date.now() < deadline && !superseded()) {
    try {
      const res = await fetch(`http://127.0.0.1:${GATEWAY_PORT}/status`, {
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      if (((await res.json()) as { auth?: string }).auth === "ok") return true;
    } catch {
      // not yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return superseded();
}

/** One probe of a tier's /status; after PROBE_FAILURES misses in a row, a restart. */
async function probe(t: Tier): Promise<void> {
  if (t.busy || t.probing || stopping) return;
  t.probing = true;
  try {
    const res = await fetch(`http://127.0.0.1:${t.port}/status`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body?.cancel();
    t.missed = 0;
  } catch {
    t.missed += 1;
  } finally {
    t.probing = false;
  }
  if (t.missed >= PROBE_FAILURES && !t.busy && !stopping) {
    const missed = t.missed;
    t.missed = 0;
    void restartTier(t, `/status did not answer ${missed} probes in a row (${PROBE_TIMEOUT_MS / 1000} s each)`);
  }
}

function supervise(): void {
  supervising = true;
  setInterval(() => {
    for (const t of tiers) void probe(t);
  }, PROBE_INTERVAL_MS);
}

/** A Redis to put the bridge in front of: REDIS_URL if it answers, else a private redis-server. */
async function ensureRedis(): Promise<string> {
  const url = new URL(REDIS_URL);
  if (await answers(url.hostname, Number(url.port || 6379))) return REDIS_URL;
  if (spawnSync("redis-server", ["--version"]).status !== 0) {
    say(`no Redis answers at ${REDIS_URL} and redis-server is not installed.`);
    say(
      "Install it (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis), or set REDIS_URL.",
    );
    process.exit(1);
  }
  const port = await freePort();
  say(`no Redis at ${REDIS_URL}; starting a private redis-server on 127.0.0.1:${port} (no persistence)`);
  start("redis-server", "redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
  ]);
  const deadline = Date.now() + 10_000;
  while (!(await answers("127.0.0.1", port))) {
    if (Date.now() > deadline) throw new Error("the private redis-server did not start");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return `redis://127.0.0.1:${port}`;
}

/** The Upstash endpoint the auth tier will use: Upstash itself, or the local bridge. */
async function upstashEndpoint(): Promise<{ url: string; token: string }> {
  const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = process.env;
  if (url && token) {
    say(`using Upstash at ${url}`);
    return { url, token };
  }
  const redisUrl = await ensureRedis();
  const bridgeToken = randomBytes(24).toString("base64url");
  bridge = await startRedisBridge({ redisUrl, token: bridgeToken, port: Number(process.env.BRIDGE_PORT ?? 0) });
  say(`redis bridge ${bridge.url} -> ${redisUrl}`);
  return { url: bridge.url, token: bridgeToken };
}

/** Waits until `url` answers 200 (or, with `anyAnswer`, answers at all); gives up if `child` exits. */
async function waitForStatus(name: string, url: string, anyAnswer = false, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null))
      throw new Error(`${name} exited while starting`);
    try {
      // A hung proxy accepts and never answers: each attempt gets a few seconds.
      const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      await res.body?.cancel();
      if (res.ok || anyAnswer) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} did not become healthy at ${url}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function stop(code: number): Promise<never> {
  stopping = true;
  // The tiers read their secrets at start: the files go first, whatever happens to the rest of the stop.
  secretFiles.remove();
  // A tier whose wrangler has died may have left its runtimes behind, still holding its port.
  await Promise.all(tiers.map((t) => stopTierProcesses(t)));
  for (const child of [...children]) {
    try {
      if (child.pid) process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  await Promise.all(
    [...children].map((child) => (child.exitCode === null && child.signalCode === null ? once(child, "exit") : null)),
  );
  await bridge?.close();
  await demo?.close();
  if (ONLY === "all") rmSync(DEV_STACK_FILE, { force: true });
  secretFiles.remove();
  process.exit(code);
}

process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

/** The secret `name` from the environment (one tier run alone shares it with another), else made up. */
const given = (name: string, made: string) => process.env[name] || made;

/** The demo upstreams and audit collector (`--only demo`, or part of the whole stack). */
async function startDemo(auditToken: string): Promise<void> {
  // The real APIs behind the gateway's demo apps; they trust tokens from the auth tier. The audit
  // collector takes events only with this token, which the gateway's sink sends (AUDIT_SINK_AUTH).
  demo = await startDemoUpstreams({
    auditToken,
    issuer: `http://localhost:${AUTH_PORT}`,
    mcpPort: PORTS.mcp,
    restPort: PORTS.rest,
    auditPort: PORTS.audit,
    onAuditEvent: (e) =>
      say(
        `audit: ${e.method === "tools/call" ? "" : `${String(e.method)} `}${String(e.tool ?? e.prompt ?? e.resource)} ${e.decision} ${e.outcome} agent=${e.agent} user=${e.user}${e.token_jti ? ` token_jti=${e.token_jti}` : ""}${e.reason ? ` (${e.reason})` : ""}`,
      ),
  });
  say(
    `demo upstreams: MCP server ${demo.mcpUrl}, REST API ${demo.restUrl} (OpenAPI at /openapi.json), audit collector ${demo.auditUrl}`,
  );
}

// Started one after the other: two wrangler dev processes starting at once race for the same
// inspector port. Each gets its own free one as well.
const wranglerBin = join(import.meta.dirname, "..", "node_modules", ".bin", "wrangler");
const wrangler = ["dev", "--ip", "127.0.0.1", "--show-interactive-dev-session=false", "--persist-to", PERSIST_DIR];
// The dev configuration adds a demo user and demo clients; their secrets are made up per run
// unless given (GATEWAY_CLIENT_SECRET, DEMO_AGENT_SECRET), as a tier run alone needs them to
// match the other tier's. So is the audit collector's token (DEV_AUDIT_TOKEN).
const { auth: authConfig, gateway: gatewayConfig } = devConfigs(PORTS);
const made = devClientSecrets();
const clientSecrets = {
  GATEWAY_CLIENT_SECRET: given("GATEWAY_CLIENT_SECRET", made.GATEWAY_CLIENT_SECRET),
  DEMO_AGENT_SECRET: given("DEMO_AGENT_SECRET", made.DEMO_AGENT_SECRET),
};
const auditToken = given("DEV_AUDIT_TOKEN", devAuditToken());

/** The auth tier (`--only auth`, or part of the whole stack), with `redis` behind it. */
async function startAuthTier(redis: { url: string; token: string }): Promise<void> {
  // Local signing keys live as long as this process; production keys come from `npm run keys`.
  // One line of JSON, as an env file carries it.
  const signingKeys = JSON.stringify(
    process.env.SIGNING_KEYS ? JSON.parse(process.env.SIGNING_KEYS) : { keys: [await generateSigningKey("ES256")] },
  );
  // Secrets go in the tier's env file (--env-file); only documents and URLs, which hold none, go on
  // the command line (the documents name their secrets as { env: NAME }).
  // A restart reuses the env file, which stays in place until the stack stops.
  const authSecrets = secretFiles.write("auth", {
    UPSTASH_REDIS_REST_TOKEN: redis.token,
    SIGNING_KEYS: signingKeys,
    ...clientSecrets,
  });
  const authTier = tier("auth tier", AUTH_PORT, "wrangler.auth.toml", async () => [
    ...wrangler,
    "-c",
    "wrangler.auth.toml",
    "--port",
    String(AUTH_PORT),
    "--inspector-port",
    String(await freePort()),
    "--env-file",
    authSecrets,
    "--var",
    `UPSTASH_REDIS_REST_URL:${redis.url}`,
    "--var",
    `AUTH_CONFIG:${authConfig}`,
  ]);
  await startTier(authTier);
  await waitForStatus("auth tier", `http://127.0.0.1:${AUTH_PORT}/status`, true);
}

/** The gateway (`--only gateway`, or part of the whole stack); its AUTH binding reaches the auth tier of the same registry. */
async function startGateway(): Promise<void> {
  // The gateway's build step (scripts/policy-bundle.mjs) bundles the policies of this directory.
  // Imported here: compiling the stand-ins loads AssemblyScript, which only the gateway needs.
  const { devPolicyDir } = await import("./dev-policies.js");
  Object.assign(childEnv, { GATEWAY_POLICY_DIR: await devPolicyDir(say) });
  const gatewaySecrets = secretFiles.write("gateway", {
    GATEWAY_CLIENT_SECRET: clientSecrets.GATEWAY_CLIENT_SECRET,
    AUDIT_SINK_AUTH: `Bearer ${auditToken}`,
  });
  const gatewayTier = tier("gateway", GATEWAY_PORT, "wrangler.gateway.toml", async () => [
    ...wrangler,
    "-c",
    "wrangler.gateway.toml",
    "--port",
    String(GATEWAY_PORT),
    "--inspector-port",
    String(await freePort()),
    "--env-file",
    gatewaySecrets,
    "--var",
    `GATEWAY_CONFIG:${gatewayConfig}`,
  ]);
  await startTier(gatewayTier);
}

try {
  // Redis first: a machine without one learns it (and the command that installs redis-server) at once.
  const redis = ONLY === "all" || ONLY === "auth" ? await upstashEndpoint() : undefined;
  if (ONLY === "all" || ONLY === "demo") await startDemo(auditToken);
  if (redis) await startAuthTier(redis);
  if (ONLY === "all" || ONLY === "gateway") await startGateway();
  await Promise.all(tiers.map((t) => waitForStatus(t.name, `http://127.0.0.1:${t.port}/status`)));
} catch (err) {
  say((err as Error).message);
  await stop(1);
}

supervise();
if (ONLY === "all") {
  const info = devStackInfo(PORTS, clientSecrets, auditToken);
  writeDevStackInfo(info);
  for (const line of connectHelp(info)) say(line);
} else {
  for (const line of oneTierHelp(ONLY, PORTS, { ...clientSecrets, DEV_AUDIT_TOKEN: auditToken }, REGISTRY_PATH))
    say(line);
}
