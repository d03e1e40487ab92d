// The MCP conformance suite (@modelcontextprotocol/conformance 0.1.16, every server scenario), run
// twice (test/helpers/conformance-target.ts): against an upstream MCP server directly
// (test/helpers/e2e-conformance-server.ts, a v2-SDK server of both eras that implements what the
// scenarios call), and against the gateway proxying that same upstream as its only app, with no
// namespace prefix. The runner sends no token, so a loopback front adds the agent's bearer token
// on the way to the gateway. The gateway must be transparent: every check that succeeds directly
// must succeed through it, except the known gaps listed below, which are expected to fail
// (it.fails) until the gateway closes them — then this suite says so.
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failures, startConformanceTarget, type Check, type ConformanceTarget } from "../helpers/conformance-target.js";

/**
 * Scenarios that pass directly and fail through the gateway today, with the missing piece
 * (docs/testing.md, "End-to-end tests"). Remove an entry when the gateway closes the gap.
 */
const KNOWN_GAPS: Record<string, string> = {};

const RUNNER = createRequire(import.meta.url).resolve("@modelcontextprotocol/conformance/dist/index.js");

/** Runs every server scenario against `url`; returns each scenario's checks (from its checks.json). */
async function runConformance(url: string): Promise<Map<string, Check[]>> {
  const out = mkdtempSync(join(tmpdir(), "conformance-"));
  try {
    // The runner exits non-zero when a scenario fails; its results are read either way.
    await promisify(execFile)(
      process.execPath,
      [RUNNER, "server", "--url", url, "--suite", "all", "--output-dir", out],
      { timeout: 240_000 },
    ).catch(() => undefined);
    const results = new Map<string, Check[]>();
    for (const dir of readdirSync(out)) {
      const scenario = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(dir)?.[1];
      if (scenario) results.set(scenario, JSON.parse(readFileSync(join(out, dir, "checks.json"), "utf8")) as Check[]);
    }
    return results;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** The server scenarios the runner knows (`conformance list --server`), read when this file is collected. */
const SCENARIOS = [
  ...execFileSync(process.execPath, [RUNNER, "list", "--server"], { encoding: "utf8" }).matchAll(/^\s+- (\S+)/gm),
].map((match) => match[1]!);

let target: ConformanceTarget;
let direct: Map<string, Check[]>;
let throughGateway: Map<string, Check[]>;

beforeAll(async () => {
  target = await startConformanceTarget();
  direct = await runConformance(target.directUrl);
  throughGateway = await runConformance(target.gatewayUrl);
}, 300_000);
afterAll(async () => {
  await target?.close();
});

describe("the conformance upstream, directly", () => {
  it("passes every server scenario of the suite", () => {
    expect(SCENARIOS.length).toBeGreaterThanOrEqual(30);
    expect(SCENARIOS.flatMap((scenario) => failures(direct.get(scenario)).map((f) => `${scenario} ${f}`))).toEqual([]);
  });
});

describe("the same upstream through the gateway", () => {
  for (const scenario of SCENARIOS) {
    const gap = KNOWN_GAPS[scenario];
    (gap ? it.fails : it)(`${scenario}${gap ? ` — known gap: ${gap}` : ""}`, () => {
      expect(failures(direct.get(scenario))).toEqual([]);
      expect(failures(throughGateway.get(scenario))).toEqual([]);
    });
  }
});
