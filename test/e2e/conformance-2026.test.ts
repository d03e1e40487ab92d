// The MCP conformance suite's 0.2 line (@modelcontextprotocol/conformance 0.2.0-alpha.12, installed
// as conformance-next) run with `server --requirements <revision>` for both protocol eras: exactly the
// server scenarios a revision requires, at that revision's wire (2026-07-28: stateless, per-request
// `_meta`; 2025-11-25: the `initialize` handshake and sessions), plus the scenarios it runs without
// scoring (extensions, pending). Each revision runs twice: against
// test/helpers/e2e-conformance-server.ts, a v2-SDK server serving both eras at one endpoint, and
// against the gateway proxying that same server as its only app with no namespace prefix, behind a
// loopback front that adds the bearer token the runner does not send (docs/testing.md, "End-to-end
// tests").
//
// Directly, every required scenario passes, and so does every unscored one the fixture implements.
// Through the gateway, every scenario that passes directly must pass too, except the known gaps
// below, which are expected to fail (it.fails) until the gateway's 2026-07-28 endpoint closes them;
// a gap that closes makes its test fail, so the list can only shrink.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failures, startConformanceTarget, type Check, type ConformanceTarget } from "../helpers/conformance-target.js";

const REVISIONS = ["2026-07-28", "2025-11-25"] as const;
type Revision = (typeof REVISIONS)[number];

/**
 * Scenarios that pass directly and fail through the gateway today, by revision, with the reason.
 * Remove an entry when the gateway's 2026-07-28 endpoint makes the scenario pass; the suite fails
 * until you do.
 */
const KNOWN_GAPS: Record<Revision, Record<string, string>> = {
  "2026-07-28": {},
  "2025-11-25": {},
};

/**
 * Unscored scenarios the fixture does not implement, with the reason; they must fail directly
 * (so an entry goes when the fixture gains the feature) and are not compared through the gateway.
 */
const TASKS =
  "the tasks extension (io.modelcontextprotocol/tasks, SEP-2663) has no server side in @modelcontextprotocol/server 2.4 or ext-tasks 0.2 (requester and 2025 receiver only); the requirement set runs it unscored";
const NOT_IN_FIXTURE: Record<string, string> = {
  "tasks-lifecycle": TASKS,
  "tasks-capability-negotiation": TASKS,
  "tasks-wire-fields": TASKS,
  "tasks-request-state-removal": TASKS,
  "tasks-mrtr-input": TASKS,
  "tasks-request-headers": TASKS,
  "tasks-dispatch-and-envelope": TASKS,
  "tasks-required-task-error": TASKS,
  "tasks-mrtr-composition": TASKS,
};

const RUNNER = createRequire(import.meta.url).resolve("@modelcontextprotocol/conformance-next/dist/index.js");

/** Runs `revision`'s server scenarios against `url`; returns each scenario's checks (from its checks.json). */
async function runConformance(revision: Revision, url: string): Promise<Map<string, Check[]>> {
  const out = mkdtempSync(join(tmpdir(), "conformance-next-"));
  try {
    // The runner exits non-zero when a required scenario fails; its results are read either way.
    const run = await promisify(execFile)(
      process.execPath,
      [RUNNER, "server", "--url", url, "--requirements", revision, "--timeout", "15000", "--output-dir", out],
      { timeout: 300_000, maxBuffer: 64 * 1024 * 1024 },
    ).catch((err: { stdout?: string; stderr?: string }) => err);
    const results = new Map<string, Check[]>();
    for (const dir of readdirSync(out)) {
      const scenario = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(dir)?.[1];
      // A scenario whose run threw leaves its folder without checks.json: it did not run.
      if (scenario && existsSync(join(out, dir, "checks.json")))
        results.set(scenario, JSON.parse(readFileSync(join(out, dir, "checks.json"), "utf8")) as Check[]);
    }
    if (results.size === 0 || process.env.CONFORMANCE_LOG) process.stderr.write(`${run.stdout}${run.stderr}`);
    return results;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * A revision's server scenarios as the runner lists them (`list --requirements`), read when this
 * file is collected: those it requires (and scores), and those it runs unscored (extensions, pending).
 */
function requirementSet(revision: Revision): { required: string[]; unscored: string[] } {
  const listing = execFileSync(process.execPath, [RUNNER, "list", "--requirements", revision], { encoding: "utf8" });
  const required = /Server scenarios[^\n]*\n((?:\s+- \S+\n)+)/.exec(listing)?.[1] ?? "";
  return {
    required: [...required.matchAll(/- (\S+)/g)].map((match) => match[1]!),
    unscored: [...listing.matchAll(/^\s+- (\S+) \[server\]$/gm)].map((match) => match[1]!),
  };
}

const SETS = Object.fromEntries(REVISIONS.map((revision) => [revision, requirementSet(revision)])) as Record<
  Revision,
  ReturnType<typeof requirementSet>
>;

/** "passed/total scenarios (checks: passed, failed)" over `scenarios` in one run. */
function tally(results: Map<string, Check[]>, scenarios: string[]): string {
  const checks = scenarios.flatMap((scenario) => results.get(scenario) ?? []);
  const passed = scenarios.filter((scenario) => failures(results.get(scenario)).length === 0).length;
  const count = (status: Check["status"]) => checks.filter((c) => c.status === status).length;
  return `${passed}/${scenarios.length} scenarios (checks: ${count("SUCCESS")} passed, ${count("FAILURE")} failed)`;
}

/**
 * "scenario check-id: STATUS" for each check that succeeds directly and only warns, informs, is
 * skipped or is absent through the gateway, in scenarios that pass both ways (what the gateway
 * softens without failing).
 */
function softened(directly: Map<string, Check[]>, through: Map<string, Check[]>): string[] {
  return [...directly].flatMap(([scenario, checks]) => {
    const other = through.get(scenario) ?? [];
    if (failures(checks).length > 0 || failures(other).length > 0) return [];
    const succeeded = new Set(checks.filter((c) => c.status === "SUCCESS").map((c) => c.id));
    return [...succeeded].flatMap((id) => {
      const there = other.filter((c) => c.id === id);
      if (there.some((c) => c.status === "SUCCESS")) return [];
      return [`${scenario} ${id}: ${there[0]?.status ?? "absent"}`];
    });
  });
}

let target: ConformanceTarget;
const direct = new Map<Revision, Map<string, Check[]>>();
const throughGateway = new Map<Revision, Map<string, Check[]>>();

beforeAll(async () => {
  target = await startConformanceTarget();
  for (const revision of REVISIONS) {
    const { required, unscored } = SETS[revision];
    direct.set(revision, await runConformance(revision, target.directUrl));
    throughGateway.set(revision, await runConformance(revision, target.gatewayUrl));
    // Straight to stderr: the runner keeps console output of passing tests to itself (vitest.config.ts).
    const counts = (results: Map<string, Check[]>) =>
      `required ${tally(results, required)}; with unscored ${tally(results, [...required, ...unscored])}`;
    process.stderr.write(
      `conformance --requirements ${revision} (${required.length} required, ${unscored.length} unscored server scenarios)\n` +
        `  directly:        ${counts(direct.get(revision)!)}\n` +
        `  through gateway: ${counts(throughGateway.get(revision)!)}\n` +
        `  known gaps: ${Object.keys(KNOWN_GAPS[revision]).length}; not in the fixture: ${unscored.filter((s) => s in NOT_IN_FIXTURE).length}\n` +
        `  passing scenarios with a check that succeeds directly and not through the gateway: ${
          softened(direct.get(revision)!, throughGateway.get(revision)!).join(", ") || "none"
        }\n`,
    );
  }
}, 600_000);
afterAll(async () => {
  await target?.close();
});

for (const revision of REVISIONS) {
  const { required, unscored } = SETS[revision];
  const gaps = KNOWN_GAPS[revision];
  const compared = [...required, ...unscored].filter((scenario) => !(scenario in NOT_IN_FIXTURE));

  describe(`--requirements ${revision}: the v2 conformance upstream, directly`, () => {
    it("passes every server scenario the revision requires", () => {
      expect(required.length).toBeGreaterThanOrEqual(30);
      const results = direct.get(revision)!;
      expect(required.flatMap((scenario) => failures(results.get(scenario)).map((f) => `${scenario} ${f}`))).toEqual(
        [],
      );
    });

    it("passes every unscored scenario it implements, and fails the ones it does not", () => {
      const results = direct.get(revision)!;
      expect(compared.flatMap((scenario) => failures(results.get(scenario)).map((f) => `${scenario} ${f}`))).toEqual(
        [],
      );
      for (const scenario of unscored.filter((s) => s in NOT_IN_FIXTURE))
        expect(failures(results.get(scenario)), scenario).not.toEqual([]);
    });
  });

  describe(`--requirements ${revision}: the same upstream through the gateway`, () => {
    for (const scenario of compared) {
      const gap = gaps[scenario];
      (gap ? it.fails : it)(`${scenario}${gap ? ` — known gap: ${gap}` : ""}`, () => {
        expect(failures(direct.get(revision)!.get(scenario))).toEqual([]);
        expect(failures(throughGateway.get(revision)!.get(scenario))).toEqual([]);
      });
    }

    it("lists as known gaps only scenarios the revision runs", () => {
      expect(Object.keys(gaps).filter((scenario) => !compared.includes(scenario))).toEqual([]);
    });
  });
}
