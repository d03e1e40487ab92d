// npm run dev: the whole stack on this machine.
//   Redis       REDIS_URL (default redis://127.0.0.1:6379), else a private redis-server;
//               or Upstash itself when UPSTASH_REDIS_REST_URL / _TOKEN are set
//   bridge      Upstash REST protocol in front of that Redis (scripts/redis-bridge.ts)
//   demo        upstream APIs and an audit collector (scripts/demo-upstreams.ts) on DEMO_MCP_PORT (9001),
//               DEMO_REST_PORT (9002), DEMO_AUDIT_PORT (9003); `npm run agent` listens on AGENT_PORT (9004),
//               the one loopback origin the dev auth tier fetches client ID metadata documents from
//   auth tier   wrangler dev -c wrangler.auth.toml     on AUTH_PORT (8788)
//   gateway     wrangler dev -c wrangler.gateway.toml  on GATEWAY_PORT (8787), AUTH bound to the auth tier
// Both tiers get config/*.dev.yaml (scripts/dev-stack.ts, which the end-to-end tests share). Durable
// Object storage is .wrangler/state unless DEV_PERSIST_DIR names another directory. Once up, it
// prints how to connect and leaves that in DEV_STACK_FILE for `npm run agent`.
// Ctrl-C stops everything it started.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect } from "node:net";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { devPolicyDir } from "./dev-policies.js";
import { freePort } from "./free-port.js";
import { startDemoUpstreams, type DemoUpstreams } from "./demo-upstreams.js";
import { connectHelp, DEV_STACK_FILE, devAuditToken, devClientSecrets, devConfigs, devPortsFromEnv, devSecretFiles, devStackInfo, writeDevStackInfo } from "./dev-stack.js";
import { generateSigningKey } from "./keys.js";
import { startRedisBridge, type RedisBridge } from "./redis-bridge.js";

const PORTS = devPortsFromEnv();
const { auth: AUTH_PORT, gateway: GATEWAY_PORT } = PORTS;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

const children: ChildProcess[] = [];
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

// No telemetry, and no fetch of Cloudflare's Request.cf sample: local dev works offline. Env files
// given with --env-file are how the secrets arrive, so wrangler must read them.
const childEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "true" };
// The tiers' secrets, in owner-only files for the time the stack runs (never on a command line).
const secretFiles = devSecretFiles();
process.on("exit", () => secretFiles.remove());

function start(name: string, command: string, args: string[]): ChildProcess {
  // Own process group, so stopping it also stops what it spawned (wrangler runs workerd).
  const child = spawn(command, args, { stdio: ["ignore", "inherit", "inherit"], env: childEnv, detached: true });
  child.once("exit", (code, signal) => {
    if (!stopping) {
      say(`${name} exited (${signal ?? code}); stopping the stack`);
      void stop(1);
    }
  });
  children.push(child);
  return child;
}

/** A Redis to put the bridge in front of: REDIS_URL if it answers, else a private redis-server. */
async function ensureRedis(): Promise<string> {
  const url = new URL(REDIS_URL);
  if (await answers(url.hostname, Number(url.port || 6379))) return REDIS_URL;
  if (spawnSync("redis-server", ["--version"]).status !== 0) {
    say(`no Redis answers at ${REDIS_URL} and redis-server is not installed.`);
    say("Install it (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis), or set REDIS_URL.");
    process.exit(1);
  }
  const port = await freePort();
  say(`no Redis at ${REDIS_URL}; starting a private redis-server on 127.0.0.1:${port} (no persistence)`);
  start("redis-server", "redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
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

/** Waits until `url` answers 200 (or, with `anyAnswer`, answers at all). */
async function waitForStatus(name: string, url: string, anyAnswer = false): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      const res = await fetch(url);
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
  for (const child of children) {
    try {
      if (child.pid) process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? once(child, "exit") : null)));
  await bridge?.close();
  await demo?.close();
  rmSync(DEV_STACK_FILE, { force: true });
  secretFiles.remove();
  process.exit(code);
}

process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

const redis = await upstashEndpoint();
// The gateway's build step (scripts/policy-bundle.mjs) bundles the policies of this directory.
Object.assign(childEnv, { GATEWAY_POLICY_DIR: await devPolicyDir(say) });
// The real APIs behind the gateway's demo apps; they trust tokens from the auth tier. The audit
// collector takes events only with this token, which the gateway's sink sends (AUDIT_SINK_AUTH).
const auditToken = devAuditToken();
demo = await startDemoUpstreams({
  auditToken,
  issuer: `http://localhost:${AUTH_PORT}`,
  mcpPort: PORTS.mcp,
  restPort: PORTS.rest,
  auditPort: PORTS.audit,
  onAuditEvent: (e) => say(`audit: ${e.method === "tools/call" ? "" : `${String(e.method)} `}${String(e.tool ?? e.prompt ?? e.resource)} ${e.decision} ${e.outcome} agent=${e.agent} user=${e.user}${e.token_jti ? ` token_jti=${e.token_jti}` : ""}${e.reason ? ` (${e.reason})` : ""}`),
});
say(`demo upstreams: MCP server ${demo.mcpUrl}, REST API ${demo.restUrl} (OpenAPI at /openapi.json), audit collector ${demo.auditUrl}`);
// Local signing keys live as long as this process; production keys come from `npm run keys`.
// One line of JSON, as an env file carries it.
const signingKeys = JSON.stringify(process.env.SIGNING_KEYS ? JSON.parse(process.env.SIGNING_KEYS) : { keys: [await generateSigningKey("ES256")] });
// The dev configuration adds a demo user and demo clients; their secrets are made up per run.
const { auth: authConfig, gateway: gatewayConfig } = devConfigs(PORTS);
const clientSecrets = devClientSecrets();
// Started one after the other: two wrangler dev processes starting at once race for the same
// inspector port. Each gets its own free one as well.
const wranglerBin = join(import.meta.dirname, "..", "node_modules", ".bin", "wrangler");
const wrangler = ["dev", "--ip", "127.0.0.1", "--show-interactive-dev-session=false", ...(process.env.DEV_PERSIST_DIR ? ["--persist-to", process.env.DEV_PERSIST_DIR] : [])];
// Secrets go in the tier's env file (--env-file); only documents and URLs, which hold none, go on
// the command line (the documents name their secrets as { env: NAME }).
try {
  const authSecrets = secretFiles.write("auth", { UPSTASH_REDIS_REST_TOKEN: redis.token, SIGNING_KEYS: signingKeys, ...clientSecrets });
  start("auth tier", wranglerBin, [...wrangler, "-c", "wrangler.auth.toml", "--port", String(AUTH_PORT),
    "--inspector-port", String(await freePort()), "--env-file", authSecrets,
    "--var", `UPSTASH_REDIS_REST_URL:${redis.url}`, "--var", `AUTH_CONFIG:${authConfig}`]);
  await waitForStatus("auth tier", `http://127.0.0.1:${AUTH_PORT}/status`, true);
  const gatewaySecrets = secretFiles.write("gateway", { GATEWAY_CLIENT_SECRET: clientSecrets.GATEWAY_CLIENT_SECRET, AUDIT_SINK_AUTH: `Bearer ${auditToken}` });
  start("gateway", wranglerBin, [...wrangler, "-c", "wrangler.gateway.toml", "--port", String(GATEWAY_PORT),
    "--inspector-port", String(await freePort()), "--env-file", gatewaySecrets, "--var", `GATEWAY_CONFIG:${gatewayConfig}`]);
  await Promise.all([
    waitForStatus("auth tier", `http://127.0.0.1:${AUTH_PORT}/status`),
    waitForStatus("gateway", `http://127.0.0.1:${GATEWAY_PORT}/status`),
  ]);
} catch (err) {
  say((err as Error).message);
  await stop(1);
}

const info = devStackInfo(PORTS, clientSecrets, auditToken);
writeDevStackInfo(info);
for (const line of connectHelp(info)) say(line);
