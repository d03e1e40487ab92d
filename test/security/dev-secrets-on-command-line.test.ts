// `npm run dev` hands the tiers their secrets: the token signing key (private part included), the
// demo clients' secrets, the Redis bridge's token and the audit sink's token. A process's command
// line is world-readable (/proc/<pid>/cmdline), so none of them may travel on one: they reach
// wrangler through env files only their owner can read (mode 0600 in a 0700 directory, removed
// when the stack stops) or the environment. The stack is `npm run dev` itself, started as
// test/e2e/dev-clients.test.ts starts it: free ports, its own storage and wrangler registry.
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { DevStackInfo } from "../../scripts/dev-stack.js";
import { generateSigningKey } from "../../scripts/keys.js";
import { startDevProcess, type DevProcess } from "../helpers/dev-process.js";
import { initializeAt, machineToken } from "../helpers/e2e-clients.js";
import { commandLines } from "../helpers/processes.js";

const scratch = mkdtempSync(join(tmpdir(), "sec-dev-argv-"));
// The signing key comes from the environment (SIGNING_KEYS), so the test knows its private part.
const signingKey = await generateSigningKey("ES256");
const env: NodeJS.ProcessEnv = {
  ...process.env,
  DEV_STACK_FILE: join(scratch, "stack.json"),
  DEV_PERSIST_DIR: join(scratch, "state"),
  WRANGLER_REGISTRY_PATH: join(scratch, "registry"),
  SIGNING_KEYS: JSON.stringify({ keys: [signingKey] }),
};
let stack: DevProcess;
let dev: ChildProcess;
let info: DevStackInfo;

/** The command lines of the stack's processes, as any local user can read them. */
const stackCommandLines = () => commandLines(dev.pid!);

/** The values of an env file as `npm run dev` writes them: NAME='value', one a line. */
function envFileValues(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .flatMap((line) => {
      const value = /^[A-Z_][A-Z0-9_]*='(.*)'$/.exec(line)?.[1];
      return value === undefined ? [] : [value];
    });
}

/** The env files named on wrangler's command lines (`--env-file <path>` or `--env-file=<path>`). */
function envFiles(): string[] {
  const files = new Set<string>();
  for (const { args } of stackCommandLines()) {
    args.forEach((arg, i) => {
      if (arg === "--env-file" && args[i + 1]) files.add(args[i + 1]!);
      else if (arg.startsWith("--env-file=")) files.add(arg.slice("--env-file=".length));
    });
  }
  return [...files];
}

beforeAll(async () => {
  stack = await startDevProcess(env);
  dev = stack.child;
  info = stack.info;
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(scratch, { recursive: true, force: true });
}, 60_000);

describe("npm run dev and its secrets", () => {
  it("names no secret variable on any command line of the stack", () => {
    const lines = stackCommandLines();
    expect(lines.length).toBeGreaterThan(3);
    for (const { pid, args } of lines) {
      for (const arg of args) {
        expect(arg, `pid ${pid}`).not.toMatch(
          /^(SIGNING_KEYS|UPSTASH_REDIS_REST_TOKEN|GATEWAY_CLIENT_SECRET|DEMO_AGENT_SECRET|AUDIT_SINK_AUTH)[:=]/,
        );
      }
    }
  });

  it("puts the secrets in owner-only files: mode 0600, in a directory of mode 0700", () => {
    const files = envFiles();
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const file of files) {
      const stat = statSync(file);
      expect(stat.uid).toBe(process.getuid!());
      expect((stat.mode & 0o777).toString(8), file).toBe("600");
      expect((statSync(dirname(file)).mode & 0o777).toString(8), dirname(file)).toBe("700");
    }
  });

  it("shows no secret value on any command line: signing key, client secrets, bridge token, audit token", () => {
    const shown = (secrets: string[]) => {
      for (const { pid, args } of stackCommandLines()) {
        const line = args.join(" ");
        for (const secret of secrets)
          expect(line.includes(secret), `pid ${pid}: ${args[0]} … carries a secret`).toBe(false);
      }
    };
    // What the test knows: the signing key's private part, the machine agent's secret, the audit token.
    shown([signingKey.d as string, info.machineAgent.clientSecret, info.auditToken]);
    // And everything the stack made up and put in its env files: the bridge's token, the gateway's secret.
    const fromFiles = envFiles().flatMap(envFileValues);
    expect(fromFiles).toEqual(
      expect.arrayContaining([info.machineAgent.clientSecret, env.SIGNING_KEYS, `Bearer ${info.auditToken}`]),
    );
    expect(fromFiles.length).toBeGreaterThanOrEqual(6);
    shown(fromFiles);
  });

  it("still works: the machine agent gets a token and the gateway answers with it", async () => {
    const token = await machineToken(info);
    const { status, body } = await initializeAt(info, token, "argv-check");
    expect(status, body).toBe(200);
  });

  it("removes the secrets files when it stops", async () => {
    const files = envFiles();
    expect(files.length).toBeGreaterThan(0);
    await stack.stop();
    // npm may exit before the script has finished stopping wrangler and cleaning up.
    await vi.waitFor(
      () => {
        for (const file of files) expect(existsSync(dirname(file)), dirname(file)).toBe(false);
      },
      { timeout: 30_000, interval: 100 },
    );
  }, 60_000);
});
