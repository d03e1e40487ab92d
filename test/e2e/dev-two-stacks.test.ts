// Two `npm run dev` stacks on one machine — two checkouts, or a dev stack beside the end-to-end
// tests — each on its own ports and storage, neither naming a wrangler registry. Both name their
// workers ai-identity-auth and ai-identity-gateway; in wrangler's per-user registry the second
// stack's gateway would bind to the first stack's auth tier and refuse its own tokens (503, "the
// authorization server's keys are unavailable"). Each stack keeps its own registry in its storage
// directory (scripts/dev-stack.ts devRegistryPath), so each gateway binds to its own auth tier.
// The dev gateway bundles the example policies of policies/ and none of the test fixtures.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { examplePolicies } from "../../scripts/dev-policies.js";
import type { DevStackInfo } from "../../scripts/dev-stack.js";
import { startDevProcess, type DevProcess } from "../helpers/dev-process.js";
import { initializeAt, machineToken } from "../helpers/e2e-clients.js";

const scratch = mkdtempSync(join(tmpdir(), "e2e-dev-two-"));
const stacks: DevProcess[] = [];

/** A stack's environment: its own stack file and storage, and no registry named. */
function stackEnv(name: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DEV_STACK_FILE: join(scratch, name, "stack.json"),
    DEV_PERSIST_DIR: join(scratch, name, "state"),
  };
  delete env.WRANGLER_REGISTRY_PATH;
  return env;
}

/** The gateway's /status. */
async function gatewayStatus(info: DevStackInfo): Promise<{ auth: string; policy: { bundled: string[] } }> {
  return (await (await fetch(`${info.gateway}/status`, { signal: AbortSignal.timeout(10_000) })).json()) as {
    auth: string;
    policy: { bundled: string[] };
  };
}

beforeAll(async () => {
  // One after the other: two stacks starting at once are more than two cores build in the hook's time.
  stacks.push(await startDevProcess(stackEnv("first")));
  stacks.push(await startDevProcess(stackEnv("second")));
}, 360_000);

afterAll(async () => {
  await Promise.all(stacks.map((stack) => stack.stop()));
  rmSync(scratch, { recursive: true, force: true });
}, 90_000);

describe("two npm run dev stacks on one machine", () => {
  it("each keeps its own wrangler dev registry in its storage directory, naming its own runtimes", () => {
    const entries = ["first", "second"].map((name) => {
      const file = join(scratch, name, "state", "registry", "ai-identity-auth");
      expect(existsSync(file), file).toBe(true);
      return (JSON.parse(readFileSync(file, "utf8")) as { debugPortAddress: string }).debugPortAddress;
    });
    expect(entries[0]).not.toBe(entries[1]);
  });

  it("each gateway binds to its own auth tier: a token of that tier opens a session", async () => {
    for (const { info } of stacks) {
      expect((await gatewayStatus(info)).auth).toBe("ok");
      const { status, body } = await initializeAt(info, await machineToken(info), "two-stacks");
      expect(status, body).toBe(200);
    }
  }, 60_000);

  it("a gateway refuses a token of the other stack's auth tier as not from an authorization server it trusts", async () => {
    const [first, second] = stacks.map((stack) => stack.info);
    const { status, body } = await initializeAt(first!, await machineToken(second!), "two-stacks");
    expect(status).toBe(401);
    expect(body).toContain("not issued by a trusted authorization server");
  }, 60_000);

  it("the dev gateway bundles the example policies only, never the test fixtures", async () => {
    const { bundled } = (await gatewayStatus(stacks[0]!.info)).policy;
    expect(bundled).toEqual(examplePolicies());
    for (const fixture of ["trap", "not-a-policy", "echo", "shapes"]) expect(bundled).not.toContain(fixture);
  });
});
