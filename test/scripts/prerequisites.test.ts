// npm test on a machine that lacks something the selected test files need (test/helpers/
// prerequisites.ts): the run stops in its global setup, before building anything, naming what is
// missing, the command that installs it and the files that need it; files that need none of it
// are not held up by it.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/build.js";
import {
  importClosure,
  missingPrerequisites,
  missingReport,
  prerequisites,
  type Prerequisite,
} from "../helpers/prerequisites.js";
import { closedPort } from "../helpers/redis.js";

const run = promisify(execFile);
const file = (path: string) => join(ROOT, path);

/** The machine's prerequisites with `absent` ones reported missing (by the start of their name). */
function machineLacking(...absent: string[]): Prerequisite[] {
  return prerequisites().map((p) => ({ ...p, present: async () => !absent.some((name) => p.name.startsWith(name)) }));
}

describe("what the test files need from the machine", () => {
  it("follows a test file's relative imports down to the helpers that need a prerequisite", () => {
    const closure = importClosure(file("test/e2e/dev-clients.test.ts"));
    expect([...closure.keys()]).toContain(file("test/helpers/browser.ts"));
    expect([...closure.keys()]).toContain(file("scripts/dev-stack.ts"));
  });

  it("a browser sign-in test needs Chromium; a pure rule's test needs nothing", async () => {
    const missing = await missingPrerequisites(
      [file("test/auth/browser-login.test.ts"), file("test/core/config.test.ts")],
      machineLacking("Chromium", "a Redis", "redis-server"),
    );
    const chromium = missing.find((m) => m.prerequisite.name.startsWith("Chromium"));
    expect(chromium?.files).toEqual(["test/auth/browser-login.test.ts"]);
    expect(missing.flatMap((m) => m.files)).not.toContain("test/core/config.test.ts");
    expect(
      await missingPrerequisites(
        [file("test/core/config.test.ts")],
        machineLacking("Chromium", "a Redis", "redis-server"),
      ),
    ).toEqual([]);
  });

  it("the store drills that run their own Redis need redis-server; the dev stack's specs need a Redis", async () => {
    const missing = await missingPrerequisites(
      [
        file("test/reliability/redis-restarted-empty-resurrects-revoked-tokens.test.ts"),
        file("test/reliability/dev-stack-tier-dies.test.ts"),
      ],
      machineLacking("a Redis", "redis-server"),
    );
    const byName = Object.fromEntries(missing.map((m) => [m.prerequisite.name.split(" ")[0]!, m.files]));
    expect(byName["redis-server"]).toEqual([
      "test/reliability/redis-restarted-empty-resurrects-revoked-tokens.test.ts",
    ]);
    expect(byName.a).toContain("test/reliability/dev-stack-tier-dies.test.ts");
  });

  it("the report names what is missing, the command that installs it and the files that need it", async () => {
    const report = missingReport(
      await missingPrerequisites([file("test/auth/browser-login.test.ts")], machineLacking("Chromium")),
    );
    expect(report).toContain("Chromium at");
    expect(report).toContain("apt-get install -y chromium");
    expect(report).toContain("CHROMIUM_PATH");
    expect(report).toContain("needed by: test/auth/browser-login.test.ts");
  });
});

describe("npm test on a machine without them", () => {
  it("stops before building anything, saying what to install, when Chromium and Redis are missing", async () => {
    const env = {
      ...process.env,
      CHROMIUM_PATH: join(ROOT, ".build", "no-such-chromium"),
      REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
    };
    const failed = await run("node", ["scripts/node22.mjs", "vitest", "run", "test/auth/browser-login.test.ts"], {
      cwd: ROOT,
      env,
      timeout: 60_000,
    }).then(
      () => undefined,
      (err: { code?: number; stdout: string; stderr: string }) => err,
    );
    expect(failed?.code).not.toBe(0);
    const said = `${failed?.stdout}${failed?.stderr}`;
    expect(said).toContain("This machine lacks what the selected tests need");
    expect(said).toContain("apt-get install -y chromium");
    expect(said).toContain("apt-get install -y redis-server");
    expect(said).not.toContain("Test Files");
  });
});
