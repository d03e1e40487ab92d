// `npm run dev -- --only auth`: the auth tier alone, with its Redis, for failure drills and for
// people who deploy only the auth tier (docs/dev-stack.md). Secrets another part must share come
// from the environment; what it prints tells how to start the gateway alone against it. A wrong
// argument is refused with the usage.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/build.js";
import { startDevPart, type DevPartProcess } from "../helpers/dev-process.js";

const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), "e2e-dev-one-"));
const agentSecret = "given-by-the-environment-for-this-test";
const env: NodeJS.ProcessEnv = {
  ...process.env,
  DEV_STACK_FILE: join(scratch, "stack.json"),
  DEV_PERSIST_DIR: join(scratch, "state"),
  WRANGLER_REGISTRY_PATH: join(scratch, "registry"),
  DEMO_AGENT_SECRET: agentSecret,
};
let auth: DevPartProcess;
let origin: string;

beforeAll(async () => {
  auth = await startDevPart(env, "auth");
  origin = `http://localhost:${auth.ports.AUTH_PORT}`;
}, 180_000);

afterAll(async () => {
  await auth?.stop();
  rmSync(scratch, { recursive: true, force: true });
}, 60_000);

describe("npm run dev -- --only auth", () => {
  it("starts the auth tier alone: its status and metadata answer, and no gateway or demo server listens", async () => {
    const status = await fetch(`${origin}/status`);
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ tier: "auth", redis: "ok" });
    const metadata = (await (await fetch(`${origin}/.well-known/oauth-authorization-server`)).json()) as {
      issuer: string;
    };
    expect(metadata.issuer).toBe(origin);
    for (const port of [auth.ports.GATEWAY_PORT, auth.ports.DEMO_MCP_PORT, auth.ports.DEMO_AUDIT_PORT]) {
      await expect(fetch(`http://127.0.0.1:${port}/status`)).rejects.toThrow();
    }
    expect(existsSync(env.DEV_STACK_FILE!)).toBe(false);
  });

  it("takes the demo clients' secrets from the environment, so that another part can share them", async () => {
    const res = await fetch(`${origin}/token`, {
      method: "POST",
      headers: { Authorization: `Basic ${btoa(`demo-agent:${agentSecret}`)}` },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        resource: `http://localhost:${auth.ports.GATEWAY_PORT}/mcp`,
        scope: "tools:read",
      }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
  });

  it("prints where it is and how to start the gateway alone against it", () => {
    expect(auth.output()).toContain(`the auth tier is up alone: ${origin}`);
    expect(auth.output()).toMatch(/GATEWAY_CLIENT_SECRET=\S+ npm run dev -- --only gateway/);
  });

  it("refuses an unknown part with the usage", async () => {
    const failed = await run("npm", ["run", "dev", "--", "--only", "everything"], {
      cwd: ROOT,
      env,
      timeout: 60_000,
    }).catch((err: { code: number; stdout: string; stderr: string }) => err);
    expect("code" in failed ? failed.code : 0).toBe(2);
    expect(`${failed.stdout}${failed.stderr}`).toContain("usage: npm run dev [-- --only auth|gateway|demo]");
  }, 60_000);
});
