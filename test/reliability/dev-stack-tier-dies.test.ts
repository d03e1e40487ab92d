// `npm run dev` supervises its two tiers (scripts/dev.ts): a tier whose wrangler dies is started
// again, and so is a tier whose port still accepts connections but never answers (a hung proxy
// runtime), on the same port with the same secrets; a tier that keeps failing stops the whole
// stack with a message naming it. The stack is `npm run dev` itself, started as
// test/e2e/dev-clients.test.ts starts it (free ports, its own storage and wrangler registry), and
// the faults are real: the auth tier's wrangler process is killed, its proxy runtime is frozen.
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { DevStackInfo } from "../../scripts/dev-stack.js";
import { startDevProcess, type DevProcess } from "../helpers/dev-process.js";
import { initializeAt, machineToken } from "../helpers/e2e-clients.js";
import { commandLines } from "../helpers/processes.js";

const scratch = mkdtempSync(join(tmpdir(), "rel-dev-supervision-"));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  DEV_STACK_FILE: join(scratch, "stack.json"),
  DEV_PERSIST_DIR: join(scratch, "state"),
  WRANGLER_REGISTRY_PATH: join(scratch, "registry"),
  // Two restarts allowed within ten minutes, so the third failure below stops the stack whatever
  // the machine's speed.
  DEV_MAX_RESTARTS: "2",
  DEV_RESTART_WINDOW_MS: "600000",
};
let stack: DevProcess;
let dev: ChildProcess;
let info: DevStackInfo;
let authPort: number;

/** The stack's processes whose command line satisfies `match`. */
const stackProcesses = (match: (args: string[]) => boolean) => commandLines(dev.pid!, match);

/** The auth tier's wrangler (the Node process running wrangler-dist/cli.js, not its launcher). */
function authWrangler(): number {
  const found = stackProcesses(
    (args) => args.some((arg) => arg.endsWith("wrangler-dist/cli.js")) && args.includes("wrangler.auth.toml"),
  );
  expect(found).toHaveLength(1);
  return found[0]!.pid;
}

/** The auth tier's proxy runtime: the workerd that listens on the tier's port. */
function authProxyRuntime(): number {
  const found = stackProcesses(
    (args) => args[0]!.endsWith("workerd") && args.some((arg) => arg.endsWith(`127.0.0.1:${authPort}`)),
  );
  expect(found).toHaveLength(1);
  return found[0]!.pid;
}

/** GET /status of the auth tier, given `ms` to answer. */
async function authStatus(ms = 2_000): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${authPort}/status`, { signal: AbortSignal.timeout(ms) });
  await res.body?.cancel();
  return res.status;
}

/** The output printed since `mark` (a length of the output). */
const outputSince = (mark: number) => stack.output().slice(mark);

beforeAll(async () => {
  stack = await startDevProcess(env);
  dev = stack.child;
  info = stack.info;
  authPort = stack.ports.AUTH_PORT!;
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(scratch, { recursive: true, force: true });
}, 60_000);

describe("npm run dev when a tier's runtime fails", () => {
  it("restarts the auth tier when its wrangler process is killed, and says so", async () => {
    expect(await authStatus()).toBe(200);
    const mark = stack.output().length;
    process.kill(authWrangler(), "SIGKILL");
    await vi.waitFor(() => expect(outputSince(mark)).toContain(`auth tier is answering again on port ${authPort}`), {
      timeout: 90_000,
      interval: 250,
    });
    expect(await authStatus()).toBe(200);
    expect(outputSince(mark)).toMatch(
      new RegExp(
        `auth tier on port ${authPort}: its wrangler exited \\(\\w+\\); restarting it \\(restart 1 of at most 2`,
      ),
    );
    // A killed wrangler cannot unregister: its entry, naming a dead runtime, would keep the new one out.
    expect(outputSince(mark)).toContain(
      "auth tier: removed the dev registry entry a stopped wrangler left for ai-identity-auth",
    );
    expect(dev.exitCode).toBeNull();
  }, 120_000);

  it("restarts the auth tier when its port accepts connections but /status never answers", async () => {
    const mark = stack.output().length;
    // A frozen proxy runtime: the kernel still accepts connections on the port, nothing answers.
    process.kill(authProxyRuntime(), "SIGSTOP");
    await expect(authStatus(1_000)).rejects.toThrow();
    await vi.waitFor(
      () => expect(outputSince(mark)).toMatch(/auth tier on port \d+: \/status did not answer 3 probes in a row/),
      { timeout: 60_000, interval: 250 },
    );
    await vi.waitFor(() => expect(outputSince(mark)).toContain(`auth tier is answering again on port ${authPort}`), {
      timeout: 90_000,
      interval: 250,
    });
    expect(await authStatus()).toBe(200);
    expect(outputSince(mark)).toContain("restarting it (restart 2 of at most 2");
  }, 150_000);

  // A killed wrangler leaves its dev registry entry behind, and a new wrangler for the same worker
  // stays out of the registry while that entry is fresh (90 s): the gateway's AUTH binding would
  // dial the dead runtime. The supervisor removes such an entry before it starts the tier again.
  it("serves agents again after the restarts: a token from the restarted auth tier opens a gateway session", async () => {
    // The restarted tier read the same env file: the machine agent's secret still works.
    const token = await machineToken(info);
    await vi.waitFor(
      async () => {
        const { status, body } = await initializeAt(info, token, "after-restart", 10_000);
        expect(status, body).toBe(200);
      },
      { timeout: 30_000, interval: 500 },
    );
  }, 180_000);

  it("stops the whole stack, naming the tier and what to do, when the tier fails once more than it may be restarted", async () => {
    const secretsDirs = stackProcesses((args) => args.includes("wrangler.auth.toml")).flatMap(({ args }) =>
      args.filter((_, i) => args[i - 1] === "--env-file").map((file) => dirname(file)),
    );
    expect(secretsDirs.length).toBeGreaterThan(0);
    const mark = stack.output().length;
    const exited = once(dev, "exit");
    process.kill(authWrangler(), "SIGKILL");
    const [code] = (await exited) as [number | null];
    expect(code).not.toBe(0);
    const said = outputSince(mark);
    expect(said).toMatch(
      new RegExp(
        `auth tier on port ${authPort} failed again \\(its wrangler exited \\(\\w+\\)\\) after 2 restarts within 600 s; stopping the stack\\.`,
      ),
    );
    expect(said).toContain("Look at the auth tier's output above for the cause");
    expect(said).toContain("run npm run dev again");
    // Nothing left behind: no process of the stack, no secrets, no port that hangs.
    await vi.waitFor(
      () => {
        for (const dir of secretsDirs) expect(existsSync(dir), dir).toBe(false);
      },
      { timeout: 10_000, interval: 100 },
    );
    await expect(authStatus(1_000)).rejects.toThrow();
  }, 60_000);
});
