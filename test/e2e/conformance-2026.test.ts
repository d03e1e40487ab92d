// The MCP conformance suite's 0.2 line (@modelcontextprotocol/conformance 0.2.0-alpha.12, installed
// as conformance-next) run with `server --requirements 2026-07-28`: exactly the server scenarios the
// 2026-07-28 revision requires, at that revision's stateless wire (per-request `_meta`, no
// `initialize`), plus the scenarios it runs without scoring (extensions, pending). Run twice:
// against test/helpers/e2e-conformance-server-v2.ts, a v2-SDK server serving both protocol eras at
// one endpoint, and against the gateway proxying that same server as its only app with no namespace
// prefix, behind a loopback front that adds the bearer token the runner does not send
// (docs/testing.md, "End-to-end tests").
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
import { startConformanceServerV2, type ConformanceServerV2 } from "../helpers/e2e-conformance-server-v2.js";
import { startFront, type Front } from "../helpers/e2e-front.js";
import { startStack, type Stack } from "../helpers/gateway-stack.js";
import { freePort } from "../helpers/workers.js";

const REVISION = "2026-07-28";

/**
 * What each known gap waits for. Today every one has the same cause: the gateway answers a
 * 2026-07-28 request with 400 "unsupported MCP-Protocol-Version" (it has no modern-era endpoint
 * yet); the reasons name the piece of that endpoint that makes the scenario pass.
 */
const GAP = {
  lifecycle:
    "server/discover, the `_meta` envelope's errors (-32602, unsupported version, -32020, -32021), removed methods refused with 404/-32601, subscriptions/listen",
  wire: "2026-07-28 requests relayed to the upstream and its results returned (resultType, serverInfo in `_meta`)",
  notFound: "resources/read of an unknown URI answered -32602 with the URI in data, at the 2026-07-28 wire",
  streams: "2026-07-28 answers streamed as SSE where the upstream streams (progress notifications, concurrent streams)",
  rebinding: "the DNS-rebinding scenario's valid-localhost probe needs a 2026-07-28 answer",
  caching: "caching hints (ttlMs, cacheScope private when the answer depends on the caller) on list and read results",
  inputRequired: "input_required results relayed both ways, request state signed by the gateway and checked on return",
  headers: "Mcp-Method, Mcp-Name and Mcp-Param-* headers checked against the body (-32020)",
} as const;

/**
 * Scenarios that pass directly and fail through the gateway today, with the reason. Remove an
 * entry when the gateway's 2026-07-28 endpoint makes the scenario pass; the suite fails until
 * you do.
 */
const KNOWN_GAPS: Record<string, string> = {
  "server-stateless": GAP.lifecycle,
  "completion-complete": GAP.wire,
  "tools-list": GAP.wire,
  "tools-call-simple-text": GAP.wire,
  "tools-call-image": GAP.wire,
  "tools-call-audio": GAP.wire,
  "tools-call-embedded-resource": GAP.wire,
  "tools-call-mixed-content": GAP.wire,
  "tools-call-error": GAP.wire,
  "tools-call-with-progress": GAP.streams,
  "server-sse-multiple-streams": GAP.streams,
  "resources-list": GAP.wire,
  "resources-read-text": GAP.wire,
  "resources-read-binary": GAP.wire,
  "resources-templates-read": GAP.wire,
  "sep-2164-resource-not-found": GAP.notFound,
  "prompts-list": GAP.wire,
  "prompts-get-simple": GAP.wire,
  "prompts-get-with-args": GAP.wire,
  "prompts-get-embedded-resource": GAP.wire,
  "prompts-get-with-image": GAP.wire,
  "dns-rebinding-protection": GAP.rebinding,
  caching: GAP.caching,
  "input-required-result-basic-elicitation": GAP.inputRequired,
  "input-required-result-basic-sampling": GAP.inputRequired,
  "input-required-result-basic-list-roots": GAP.inputRequired,
  "input-required-result-request-state": GAP.inputRequired,
  "input-required-result-multiple-input-requests": GAP.inputRequired,
  "input-required-result-multi-round": GAP.inputRequired,
  "input-required-result-missing-input-response": GAP.inputRequired,
  "input-required-result-non-tool-request": GAP.inputRequired,
  "input-required-result-result-type": GAP.inputRequired,
  "input-required-result-unsupported-methods": GAP.inputRequired,
  "input-required-result-tampered-state": GAP.inputRequired,
  "input-required-result-capability-check": GAP.inputRequired,
  "input-required-result-ignore-extra-params": GAP.inputRequired,
  // Unscored (pending) scenarios the fixture passes.
  "json-schema-2020-12": GAP.wire,
  "http-header-validation": GAP.headers,
  "http-custom-header-server-validation": GAP.headers,
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

interface Check {
  id: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED";
  errorMessage?: string;
}

const RUNNER = createRequire(import.meta.url).resolve("@modelcontextprotocol/conformance-next/dist/index.js");

/** Runs the revision's server scenarios against `url`; returns each scenario's checks (from its checks.json). */
async function runConformance(url: string): Promise<Map<string, Check[]>> {
  const out = mkdtempSync(join(tmpdir(), "conformance-2026-"));
  try {
    // The runner exits non-zero when a required scenario fails; its results are read either way.
    const run = await promisify(execFile)(
      process.execPath,
      [RUNNER, "server", "--url", url, "--requirements", REVISION, "--timeout", "15000", "--output-dir", out],
      { timeout: 300_000, maxBuffer: 64 * 1024 * 1024 },
    ).catch((err: { stdout?: string; stderr?: string }) => err);
    const results = new Map<string, Check[]>();
    for (const dir of readdirSync(out)) {
      const scenario = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(dir)?.[1];
      // A scenario whose run died leaves its folder without checks.json: it did not run.
      if (scenario && existsSync(join(out, dir, "checks.json")))
        results.set(scenario, JSON.parse(readFileSync(join(out, dir, "checks.json"), "utf8")) as Check[]);
    }
    if (results.size === 0 || process.env.CONFORMANCE_LOG) console.log(run.stdout, run.stderr);
    return results;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** The revision's requirement set as the runner lists it (`list --requirements`), read when this file is collected. */
const LISTING = execFileSync(process.execPath, [RUNNER, "list", "--requirements", REVISION], { encoding: "utf8" });
/** The server scenarios the revision requires (the runner scores these). */
const REQUIRED = [...(/Server scenarios[^\n]*\n((?:\s+- \S+\n)+)/.exec(LISTING)?.[1] ?? "").matchAll(/- (\S+)/g)].map(
  (match) => match[1]!,
);
/** The server scenarios the runner also runs but never scores (extensions, pending). */
const UNSCORED = [...LISTING.matchAll(/^\s+- (\S+) \[server\]$/gm)].map((match) => match[1]!);

/** A scenario passes when it ran and none of its checks failed (INFO and WARNING are advice). */
const failures = (checks: Check[] | undefined) =>
  checks === undefined
    ? ["the scenario did not run"]
    : checks.filter((c) => c.status === "FAILURE").map((c) => `${c.id}: ${c.errorMessage ?? ""}`);

/** "passed/total scenarios (checks: passed, failed)" over `scenarios` in one run. */
function tally(results: Map<string, Check[]>, scenarios: string[]): string {
  const checks = scenarios.flatMap((scenario) => results.get(scenario) ?? []);
  const passed = scenarios.filter((scenario) => failures(results.get(scenario)).length === 0).length;
  const count = (status: Check["status"]) => checks.filter((c) => c.status === status).length;
  return `${passed}/${scenarios.length} scenarios (checks: ${count("SUCCESS")} passed, ${count("FAILURE")} failed)`;
}

let upstream: ConformanceServerV2;
let stack: Stack;
let front: Front;
let direct: Map<string, Check[]>;
let throughGateway: Map<string, Check[]>;

beforeAll(async () => {
  upstream = await startConformanceServerV2();
  // The front is the gateway's public address here, so browsers' Origin for it is the gateway's own.
  const frontPort = await freePort();
  stack = await startStack({
    stream: { allowedOrigins: [`http://localhost:${frontPort}`] },
    apps: [
      {
        name: "conformance",
        type: "mcpProxy",
        toolNamespace: "",
        upstream: { stream: { url: upstream.url } },
        timeout: "5s",
      },
    ],
  });
  front = await startFront({
    backends: [stack.gateway.url],
    port: frontPort,
    headers: { Authorization: `Bearer ${await stack.token()}` },
  });
  direct = await runConformance(upstream.url);
  throughGateway = await runConformance(`${front.url}/mcp`);
  const all = [...REQUIRED, ...UNSCORED];
  // Straight to stderr: the runner keeps console output of passing tests to itself (vitest.config.ts).
  process.stderr.write(
    `conformance ${REVISION} (required ${REQUIRED.length}, unscored ${UNSCORED.length} server scenarios)\n` +
      `  directly:        required ${tally(direct, REQUIRED)}; with unscored ${tally(direct, all)}\n` +
      `  through gateway: required ${tally(throughGateway, REQUIRED)}; with unscored ${tally(throughGateway, all)}\n` +
      `  known gaps: ${Object.keys(KNOWN_GAPS).length}, not in the fixture: ${Object.keys(NOT_IN_FIXTURE).length}\n`,
  );
}, 600_000);
afterAll(async () => {
  await front?.close();
  await stack?.dispose();
  await upstream?.close();
});

describe(`the v2 conformance upstream, directly (--requirements ${REVISION})`, () => {
  it("passes every server scenario the revision requires", () => {
    expect(REQUIRED.length).toBeGreaterThanOrEqual(37);
    expect(REQUIRED.flatMap((scenario) => failures(direct.get(scenario)).map((f) => `${scenario} ${f}`))).toEqual([]);
  });

  it("passes every unscored scenario it implements, and fails the ones it does not", () => {
    const implemented = UNSCORED.filter((scenario) => !(scenario in NOT_IN_FIXTURE));
    expect(implemented.flatMap((scenario) => failures(direct.get(scenario)).map((f) => `${scenario} ${f}`))).toEqual(
      [],
    );
    for (const scenario of Object.keys(NOT_IN_FIXTURE)) expect(failures(direct.get(scenario))).not.toEqual([]);
  });
});

describe("the same upstream through the gateway", () => {
  for (const scenario of [...REQUIRED, ...UNSCORED].filter((scenario) => !(scenario in NOT_IN_FIXTURE))) {
    const gap = KNOWN_GAPS[scenario];
    (gap ? it.fails : it)(`${scenario}${gap ? ` — known gap: ${gap}` : ""}`, () => {
      expect(failures(direct.get(scenario))).toEqual([]);
      expect(failures(throughGateway.get(scenario))).toEqual([]);
    });
  }

  it("lists only scenarios the revision runs as known gaps", () => {
    expect(Object.keys(KNOWN_GAPS).filter((scenario) => ![...REQUIRED, ...UNSCORED].includes(scenario))).toEqual([]);
    expect(Object.values(KNOWN_GAPS).every((reason) => Object.values(GAP).includes(reason as never))).toBe(true);
  });
});
