import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { buildPolicyFixtures, POLICY_FIXTURES_DIR } from "./opa-fixtures.js";

export const ROOT = join(import.meta.dirname, "..", "..");
export const BUILD_DIR = join(ROOT, ".build", "test");
export type Tier = "auth" | "gateway";

/** Bundles a tier exactly as `wrangler deploy` would, into .build/test/<tier>/. */
async function buildWorker(tier: Tier, env: Record<string, string> = {}): Promise<void> {
  try {
    await promisify(execFile)(
      join(ROOT, "node_modules", ".bin", "wrangler"),
      ["deploy", "--dry-run", "--outdir", join(BUILD_DIR, tier), "-c", `wrangler.${tier}.toml`],
      { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false", ...env } },
    );
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`bundling the ${tier} tier failed:\n${stderr ?? ""}\n${stdout ?? ""}`);
  }
}

/** One after the other: concurrent wrangler builds share .wrangler/tmp and can trip on each other. */
export async function buildWorkers(): Promise<void> {
  await Promise.all([buildWorker("auth"), buildPolicyFixtures()]);
  // The gateway under test carries the OPA fixtures, bundled the way a deploy bundles policies/build/.
  await buildWorker("gateway", { GATEWAY_POLICY_DIR: POLICY_FIXTURES_DIR });
}
