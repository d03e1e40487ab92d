// Which OPA policies `npm run dev` bundles into the gateway. Real `opa build` output in
// policies/build/ (npm run policy:build) when there is any; otherwise the stand-ins the tests
// use — AssemblyScript modules implementing the OPA wasm ABI that decide as the example Rego
// does (test/fixtures/opa/README.md) — so the demo shows policy at work on a machine without
// `opa`. The returned directory is what the gateway's build step reads (GATEWAY_POLICY_DIR).
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { buildPolicyFixtures, POLICY_FIXTURES_DIR } from "../test/helpers/opa-fixtures.js";

const BUILT = join(import.meta.dirname, "..", "policies", "build");

export async function devPolicyDir(say: (line: string) => void): Promise<string> {
  const built = existsSync(BUILT) ? readdirSync(BUILT).filter((name) => existsSync(join(BUILT, name, "policy.wasm"))) : [];
  if (built.length) {
    say(`policies: ${built.join(", ")} from policies/build/ (npm run policy:build)`);
    return BUILT;
  }
  await buildPolicyFixtures();
  say("policies: no opa build in policies/build/; using the test stand-ins of the example policies (test/fixtures/opa/)");
  return POLICY_FIXTURES_DIR;
}
