// Which OPA policies `npm run dev` bundles into the gateway: the example policies of policies/
// and nothing else. Real `opa build` output in policies/build/ (npm run policy:build) when there
// is any; otherwise the stand-ins the tests use for those examples — AssemblyScript modules
// implementing the OPA wasm ABI that decide as the example Rego does (test/fixtures/opa/README.md)
// — so the demo shows policy at work on a machine without `opa`. The test-only fixtures (trap,
// echo, shapes, not-a-policy) stand in for no example and never reach the dev gateway. The
// returned directory is what the gateway's build step reads (GATEWAY_POLICY_DIR).
//
// Several stacks may run from one checkout (the tests start them side by side), all bundling
// .build/dev/opa/, and wrangler rebuilds a gateway (after a crash, on a source change) from what
// is there at that moment. So the directory is never emptied: policies no longer among the
// examples are removed, and each stand-in is written over atomically (same content for the same
// sources), so a rebuild beside a starting stack always finds every policy. One shared directory,
// not one per process: the bundle's module (src/gateway/policy/bundled.generated.js) names it, and
// stacks whose modules differed would rewrite it for each other in turn.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { buildPolicyFixtures, POLICY_FIXTURES, type PolicyFixture } from "../test/helpers/opa-fixtures.js";

const ROOT = join(import.meta.dirname, "..");
const POLICIES = join(ROOT, "policies");
const BUILT = join(POLICIES, "build");
/** Where the stand-ins of the examples are compiled for the dev gateway (apart from the tests' set). */
export const DEV_POLICY_DIR = join(ROOT, ".build", "dev", "opa");

/** The example policies: each folder of policies/ holding Rego (build/ is opa's output). */
export function examplePolicies(): string[] {
  return readdirSync(POLICIES)
    .filter((name) => name !== "build" && statSync(join(POLICIES, name)).isDirectory())
    .filter((name) => readdirSync(join(POLICIES, name)).some((file) => file.endsWith(".rego")))
    .sort();
}

export async function devPolicyDir(say: (line: string) => void): Promise<string> {
  const built = existsSync(BUILT)
    ? readdirSync(BUILT).filter((name) => existsSync(join(BUILT, name, "policy.wasm")))
    : [];
  if (built.length) {
    say(`policies: ${built.join(", ")} from policies/build/ (npm run policy:build)`);
    return BUILT;
  }
  const examples = examplePolicies();
  const standIns = examples.filter((name): name is PolicyFixture => name in POLICY_FIXTURES);
  // Nothing left from an older set may be bundled; what stays is overwritten atomically.
  mkdirSync(DEV_POLICY_DIR, { recursive: true });
  for (const name of readdirSync(DEV_POLICY_DIR))
    if (!standIns.includes(name as PolicyFixture)) rmSync(join(DEV_POLICY_DIR, name), { recursive: true, force: true });
  await buildPolicyFixtures(standIns, DEV_POLICY_DIR);
  const without = examples.filter((name) => !standIns.includes(name as PolicyFixture));
  say(
    `policies: no opa build in policies/build/; using the test stand-ins of the example policies ${standIns.join(", ")} (test/fixtures/opa/)${without.length ? `; ${without.join(", ")} has none (npm run policy:build)` : ""}`,
  );
  return DEV_POLICY_DIR;
}
