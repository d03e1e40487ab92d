// Which OPA policies `npm run dev` bundles into the gateway: the example policies of policies/
// and nothing else. Real `opa build` output in policies/build/ (npm run policy:build) when there
// is any; otherwise the stand-ins the tests use for those examples — AssemblyScript modules
// implementing the OPA wasm ABI that decide as the example Rego does (test/fixtures/opa/README.md)
// — so the demo shows policy at work on a machine without `opa`. The test-only fixtures (trap,
// echo, shapes, not-a-policy) stand in for no example and never reach the dev gateway. The
// returned directory is what the gateway's build step reads (GATEWAY_POLICY_DIR).
//
// Each `npm run dev` process compiles the stand-ins into a directory of its own
// (.build/dev/opa/<pid>/): a gateway that wrangler rebuilds (a restart after a crash, a source
// change) reads that directory again, and another stack starting beside it in the same checkout
// (the tests run several) must not empty it meanwhile, which a shared directory, cleared and
// refilled by every start, did. Directories of processes that are gone are removed.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { buildPolicyFixtures, POLICY_FIXTURES, type PolicyFixture } from "../test/helpers/opa-fixtures.js";

const ROOT = join(import.meta.dirname, "..");
const POLICIES = join(ROOT, "policies");
const BUILT = join(POLICIES, "build");
/** Where the stand-ins of the examples are compiled for the dev gateway (apart from the tests' set), one directory per process. */
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
  removeDeparted(DEV_POLICY_DIR);
  // A fresh directory of this process's own: nothing left from an older set may be bundled.
  const dir = join(DEV_POLICY_DIR, String(process.pid));
  rmSync(dir, { recursive: true, force: true });
  await buildPolicyFixtures(standIns, dir);
  const without = examples.filter((name) => !standIns.includes(name as PolicyFixture));
  say(
    `policies: no opa build in policies/build/; using the test stand-ins of the example policies ${standIns.join(", ")} (test/fixtures/opa/)${without.length ? `; ${without.join(", ")} has none (npm run policy:build)` : ""}`,
  );
  return dir;
}

/** Removes the policy directories of `npm run dev` processes that are no longer running. */
function removeDeparted(parent: string): void {
  mkdirSync(parent, { recursive: true });
  for (const name of readdirSync(parent)) {
    if (/^\d+$/.test(name) && running(Number(name))) continue;
    rmSync(join(parent, name), { recursive: true, force: true });
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
