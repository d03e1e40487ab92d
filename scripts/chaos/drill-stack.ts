// `npm run dev` as the drill's subject: started on ports and storage of the drill's own (a
// wrangler registry and Durable Object storage in a scratch directory), with its Redis behind the
// drill's own Upstash-protocol bridge (scripts/redis-bridge.ts) in front of the drill's own
// redis-server. The bridge lives in this process rather than in npm run dev's, so that freezing
// npm run dev's process (which hosts the demo upstreams and the audit collector) leaves the auth
// tier's store alone. The stack's processes are found through /proc (Linux), by parentage.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readDevStackInfo, type DevStackInfo } from "../dev-stack.js";
import { freePort } from "../free-port.js";
import { startRedisBridge, type RedisBridge } from "../redis-bridge.js";
import { assertLoopback } from "./loopback.js";
import { startRedisServer, type RedisServer } from "./redis-server.js";

const ROOT = join(import.meta.dirname, "..", "..");
const PORT_VARIABLES = [
  "GATEWAY_PORT",
  "AUTH_PORT",
  "DEMO_MCP_PORT",
  "DEMO_REST_PORT",
  "DEMO_AUDIT_PORT",
  "AGENT_PORT",
] as const;

export type TierName = "gateway" | "auth";

export interface DrillStack {
  info: DevStackInfo;
  redis: RedisServer;
  /** Where everything npm run dev printed goes (removed by stop() unless kept). */
  logFile: string;
  /** Everything npm run dev printed since `mark` (a length of the output, from outputLength()). */
  outputSince(mark: number): string;
  outputLength(): number;
  /**
   * Kills every process of a tier (its wrangler, proxy runtime and worker runtime) with SIGKILL and
   * waits until none is left: how many there were, and when the last was gone.
   */
  killTier(tier: TierName): Promise<{ killed: number; goneAt: number }>;
  /** Freezes or thaws npm run dev's own Node process: the demo upstreams and the audit collector. */
  freezeDemoHost(): void;
  thawDemoHost(): void;
  /** False once npm run dev has exited. */
  running(): boolean;
  /** Stops the stack and Redis and removes the scratch directory; the log stays only with `keepLog`. */
  stop(keepLog?: boolean): Promise<void>;
}

/** Every process descended from `root`, with its command line and process group. */
function processesUnder(root: number): { pid: number; pgid: number; args: string[] }[] {
  const table = new Map<number, { ppid: number; pgid: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [, ppid, pgid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      table.set(Number(entry), { ppid: Number(ppid), pgid: Number(pgid) });
    } catch {
      // gone meanwhile
    }
  }
  const found = [root];
  for (let i = 0; i < found.length; i++) for (const [pid, { ppid }] of table) if (ppid === found[i]) found.push(pid);
  return found.flatMap((pid) => {
    try {
      return [
        {
          pid,
          pgid: table.get(pid)!.pgid,
          args: readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean),
        },
      ];
    } catch {
      return [];
    }
  });
}

export async function startDrillStack(log: (line: string) => void): Promise<DrillStack> {
  const scratch = mkdtempSync(join(tmpdir(), "aigw-chaos-"));
  const redis = await startRedisServer();
  const bridgeToken = randomBytes(24).toString("base64url");
  let bridge: RedisBridge | undefined;
  let child: ChildProcess | undefined;
  const cleanup = async () => {
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      // Thawed first: a frozen npm run dev could not stop its children.
      for (const { pid } of processesUnder(child.pid)) signalQuietly(pid, "SIGCONT");
      signalQuietly(-child.pid, "SIGTERM");
      const stopped = await Promise.race([
        exited.then(() => true),
        new Promise<false>((resolve) => setTimeout(resolve, 30_000, false)),
      ]);
      if (!stopped) signalQuietly(-child.pid, "SIGKILL");
    }
    await bridge?.close().catch(() => undefined);
    await redis.stop();
    rmSync(scratch, { recursive: true, force: true });
  };
  try {
    bridge = await startRedisBridge({ redisUrl: redis.url, token: bridgeToken, commandTimeoutMs: 2_000 });
    const ports = Object.fromEntries(
      await Promise.all(PORT_VARIABLES.map(async (name) => [name, String(await freePort())])),
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...ports,
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN: bridgeToken,
      DEV_STACK_FILE: join(scratch, "stack.json"),
      DEV_PERSIST_DIR: join(scratch, "state"),
      WRANGLER_REGISTRY_PATH: join(scratch, "registry"),
    };
    const logFile = join(tmpdir(), `aigw-chaos-${Date.now()}.log`);
    const logStream = createWriteStream(logFile);
    let output = "";
    log(
      `starting npm run dev (gateway on ${ports.GATEWAY_PORT}, auth tier on ${ports.AUTH_PORT}; its output goes to ${logFile})`,
    );
    // Its own process group, so that stopping it stops all it started.
    const started = spawn("npm", ["run", "dev"], { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    child = started;
    const collect = (chunk: Buffer) => {
      const text = chunk.toString();
      logStream.write(text);
      output += text;
    };
    started.stdout!.on("data", collect);
    started.stderr!.on("data", collect);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`npm run dev did not come up within 3 minutes (see ${logFile})`)),
        180_000,
      );
      const check = () => {
        if (output.includes("Ctrl-C stops everything.")) {
          clearTimeout(timer);
          resolve();
        }
      };
      started.stdout!.on("data", check);
      started.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`npm run dev exited (${code}) while starting (see ${logFile})`));
      });
    });
    const info = readDevStackInfo(env.DEV_STACK_FILE!);
    if (!info) throw new Error(`npm run dev wrote no ${env.DEV_STACK_FILE}`);
    for (const url of [info.mcp, info.gateway, info.auth, info.auditEvents]) assertLoopback(url);
    /** The Node process running scripts/dev.ts (under npm, sh and the Node 22 launcher). */
    const devNode = () => {
      const found = processesUnder(started.pid!).filter(
        ({ args }) =>
          args.some((arg) => arg.endsWith("scripts/dev.ts")) && !args.some((arg) => arg.endsWith("node22.mjs")),
      );
      // tsx runs the script in a child Node process: the innermost one hosts the servers.
      const innermost = found.at(-1);
      if (!innermost) throw new Error("npm run dev's own process is gone");
      return innermost.pid;
    };
    const demoHost = devNode();
    return {
      info,
      redis,
      logFile,
      outputSince: (mark) => output.slice(mark),
      outputLength: () => output.length,
      async killTier(tier) {
        const config = tier === "gateway" ? "wrangler.gateway.toml" : "wrangler.auth.toml";
        const groups = new Set(
          processesUnder(started.pid!)
            .filter(({ args }) => args.includes(config))
            .map(({ pgid }) => pgid),
        );
        if (groups.size !== 1) throw new Error(`expected one process group for the ${tier}, found ${groups.size}`);
        const [pgid] = groups;
        const killed = processesUnder(started.pid!).filter((p) => p.pgid === pgid).length;
        signalQuietly(-pgid!, "SIGKILL");
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline && processesUnder(started.pid!).some((p) => p.pgid === pgid))
          await new Promise((resolve) => setTimeout(resolve, 20));
        return { killed, goneAt: Date.now() };
      },
      freezeDemoHost: () => signalQuietly(demoHost, "SIGSTOP"),
      thawDemoHost: () => signalQuietly(demoHost, "SIGCONT"),
      running: () => started.exitCode === null && started.signalCode === null,
      async stop(keepLog = false) {
        await cleanup();
        logStream.end();
        if (!keepLog) rmSync(logFile, { force: true });
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
