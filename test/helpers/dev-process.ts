// `npm run dev` itself as a child process, on free ports of its own, for specs about the dev stack's
// processes (their command lines, their supervision, one part run alone): started, waited for
// until it says it is up, and stopped with its whole process group.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readDevStackInfo, type DevStackInfo } from "../../scripts/dev-stack.js";
import { ROOT } from "./build.js";
import { freePort } from "./workers.js";

export interface DevProcess {
  /** The `npm run dev` process (the leader of its process group). */
  child: ChildProcess;
  /** What the stack wrote for clients (DEV_STACK_FILE). */
  info: DevStackInfo;
  /** The port of each tier and demo server, by variable name (GATEWAY_PORT, AUTH_PORT, …). */
  ports: Record<string, number>;
  /** Everything the stack has printed so far, stdout and stderr together. */
  output(): string;
  /** SIGTERM to the whole group, SIGKILL after 30 s; resolves once `npm run dev` has exited. */
  stop(): Promise<void>;
}

const PORT_VARIABLES = [
  "GATEWAY_PORT",
  "AUTH_PORT",
  "DEMO_MCP_PORT",
  "DEMO_REST_PORT",
  "DEMO_AUDIT_PORT",
  "AGENT_PORT",
];

/** `npm run dev -- --only <part>`: one part of the stack, which writes no DevStackInfo. */
export type DevPartProcess = Omit<DevProcess, "info">;

/** Starts `npm run dev` with `env` (which must set DEV_STACK_FILE) plus free ports, and waits until it is up. */
export async function startDevProcess(env: NodeJS.ProcessEnv): Promise<DevProcess> {
  const started = await startDev(env, []);
  return { ...started, info: readDevStackInfo(env.DEV_STACK_FILE!)! };
}

/** Starts `npm run dev -- --only <part>` with `env` plus free ports, and waits until it is up. */
export function startDevPart(env: NodeJS.ProcessEnv, part: "auth" | "gateway" | "demo"): Promise<DevPartProcess> {
  return startDev(env, ["--", "--only", part]);
}

async function startDev(env: NodeJS.ProcessEnv, args: string[]): Promise<DevPartProcess> {
  const picked = await Promise.all(PORT_VARIABLES.map(() => freePort()));
  const ports = Object.fromEntries(PORT_VARIABLES.map((name, i) => [name, picked[i]!]));
  const child = spawn("npm", ["run", "dev", ...args], {
    cwd: ROOT,
    env: { ...env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Ctrl-C stops everything.")) resolve();
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    child.once("exit", (code) => reject(new Error(`npm run dev exited (${code}):\n${output}`)));
  });
  return {
    child,
    ports,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      process.kill(-child.pid!, "SIGTERM");
      const stopped = await Promise.race([
        exited.then(() => true),
        new Promise<false>((resolve) => setTimeout(resolve, 30_000, false)),
      ]);
      if (!stopped) process.kill(-child.pid!, "SIGKILL");
    },
  };
}
