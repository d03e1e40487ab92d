// Policy evaluation time per call, for scripts/bench.ts: `await benchPolicyEvaluation()`.
//
// Measures the gateway's own decision path (PolicyEngine.decide: input to JSON, into the wasm
// instance, evaluation, result set back and checked) with the real SDK, in Node's V8 — the
// engine workerd runs too. In workerd itself a worker cannot time synchronous work (its clocks
// only advance on I/O), so Node is where per-call figures can be taken. Policies: the OPA-ABI
// test fixtures standing in for the examples in policies/, and every real `opa build` output
// in policies/build/ when there is one.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { PolicyEngine, type PolicyRef } from "../src/gateway/policy/engine.js";
import { buildPolicyInput, type PolicyInput } from "../src/gateway/policy/input.js";
import { createPolicyRegistry, type BundledPolicy } from "../src/gateway/policy/registry.js";
import { buildPolicyFixtures, loadPolicyFixtures } from "../test/helpers/opa-fixtures.js";

export interface PolicyBenchResult {
  policy: string;
  calls: number;
  /** Instantiation and data loading: the first call an isolate makes to a policy. */
  firstCallMs: number;
  medianUs: number;
  p99Us: number;
}

/** A tools/call as agents make them: a namespaced tool with a few arguments, a user with groups. */
function sampleInput(now: number): PolicyInput {
  return buildPolicyInput({
    principal: {
      issuer: "https://auth.example.com",
      sub: "alice",
      clientId: "claude-desktop",
      scopes: ["tools:read", "tools:write"],
      expiresAt: Math.floor(now / 1000) + 3600,
    },
    claims: { email: "alice@example.com", groups: ["engineering", "support"] },
    session: { id: "0f8e4c1a9b7d4e2f8a6c5b3d1e9f7a2c", createdAt: now - 60_000 },
    tool: {
      name: "github__create_issue",
      app: "github",
      upstreamName: "create_issue",
      arguments: { repo: "acme/api", title: "Build fails on main", labels: ["bug", "ci"], body: "x".repeat(400) },
    },
    mcp: { method: "tools/call", params: { name: "github__create_issue" } },
    http: {
      method: "POST",
      path: "/mcp",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2025-11-25",
        "user-agent": "claude-desktop/1.0",
      },
    },
    now,
  });
}

function builtPolicies(dir: string): BundledPolicy[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, "policy.wasm")))
    .map((name) => {
      const wasm = new WebAssembly.Module(readFileSync(join(dir, name, "policy.wasm")));
      const data = join(dir, name, "data.json");
      return existsSync(data)
        ? { name, wasm, data: JSON.parse(readFileSync(data, "utf8")) as unknown }
        : { name, wasm };
    });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(
  engine: PolicyEngine,
  ref: PolicyRef,
  input: PolicyInput,
  calls: number,
): Promise<PolicyBenchResult> {
  const started = performance.now();
  await engine.evaluate(ref, input); // throws if the policy cannot answer: no figures for a failure
  const firstCallMs = performance.now() - started;
  for (let i = 0; i < Math.min(500, calls); i++) await engine.decide(ref, input); // warm-up: JIT
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await engine.decide(ref, input);
    samples.push((performance.now() - t) * 1000);
  }
  samples.sort((a, b) => a - b);
  return { policy: ref.name, calls, firstCallMs, medianUs: percentile(samples, 50), p99Us: percentile(samples, 99) };
}

/** Prints and returns policy evaluation time per call, median and p99. */
export async function benchPolicyEvaluation(
  options: { calls?: number; log?: (line: string) => void } = {},
): Promise<PolicyBenchResult[]> {
  const calls = options.calls ?? 5_000;
  const log = options.log ?? console.log;
  await buildPolicyFixtures();
  const fixtures = (await loadPolicyFixtures()).filter((p) =>
    ["scopes", "business-hours", "argument-groups"].includes(p.name),
  );
  const built = builtPolicies(join(import.meta.dirname, "..", "policies", "build")).map((p) => ({
    ...p,
    name: `policies/build/${p.name}`,
  }));
  const engine = new PolicyEngine(
    createPolicyRegistry([...fixtures.map((p) => ({ ...p, name: `fixture/${p.name}` })), ...built]),
  );
  const input = sampleInput(Date.parse("2026-03-02T10:00:00Z"));
  log(`policy evaluation per call (PolicyEngine.decide, Node ${process.version}, ${calls} calls each)`);
  const results: PolicyBenchResult[] = [];
  for (const { name } of [...fixtures.map((p) => ({ name: `fixture/${p.name}` })), ...built]) {
    const result = await measure(engine, { name }, input, calls);
    results.push(result);
    log(
      `  ${name.padEnd(36)} median ${result.medianUs.toFixed(1).padStart(7)} µs   p99 ${result.p99Us.toFixed(1).padStart(7)} µs   first call ${result.firstCallMs.toFixed(2)} ms`,
    );
  }
  if (!built.length) log("  (no real opa builds in policies/build/; npm run policy:build adds them)");
  return results;
}
