// Scenario 5, policy evaluation per tools/call: scripts/bench-policy.ts measures the gateway's
// decision path (PolicyEngine.decide) in Node's V8, since workerd cannot time synchronous work.
import { benchPolicyEvaluation } from "../bench-policy.js";
import type { CryptoLimits } from "./crypto.js";
import { us, verdict, type Row, type ScenarioResult } from "./report.js";

const TARGET_US = 50;

export async function benchPolicy(limits: CryptoLimits): Promise<ScenarioResult> {
  const lines: string[] = [];
  const results = await benchPolicyEvaluation({ calls: 5_000, log: (line) => lines.push(line) });
  const verifyUs = 1e6 / limits.verify.ES256;
  const rows: Row[] = results.map((r, i) => ({
    scenario: i === 0 ? "5 policy" : "",
    measure: `${r.policy} (first call ${r.firstCallMs.toFixed(1)} ms)`,
    result: `${us(r.medianUs)} / ${us(r.p99Us)}`,
    limit: `one ES256 verify ${us(verifyUs)} (1)`,
    ratio: `${((r.medianUs / verifyUs) * 100).toFixed(0)} %`,
    target: { text: `p50 ≤ ${TARGET_US} µs`, verdict: verdict(r.medianUs <= TARGET_US) },
  }));
  return {
    rows,
    data: { policies: results },
    notes: [
      `5: ${lines[0] ?? "PolicyEngine.decide"}; the example policies' stand-ins (test/fixtures/opa) and any real opa build in policies/build/.`,
    ],
  };
}
