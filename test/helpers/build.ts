import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { buildPolicyFixtures, POLICY_FIXTURES_DIR } from "./opa-fixtures.js";

export const ROOT = join(import.meta.dirname, "..", "..");
export const BUILD_DIR = join(ROOT, ".build", "test");
export type Tier = "auth" | "gateway";

/** Bundles the worker of a wrangler configuration (path from ROOT) exactly as `wrangler deploy` would, into `outDir`. */
export async function bundleWorker(config: string, outDir: string, env: Record<string, string> = {}): Promise<void> {
  try {
    await promisify(execFile)(
      join(ROOT, "node_modules", ".bin", "wrangler"),
      ["deploy", "--dry-run", "--outdir", outDir, "-c", config],
      { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false", ...env } },
    );
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`bundling ${config} failed:\n${stderr ?? ""}\n${stdout ?? ""}`);
  }
}

/**
 * Both tiers into `<buildDir>/<tier>/` (default .build/test/; the benchmark uses its own directory so
 * that it never rewrites a bundle a test run is loading). One after the other: concurrent wrangler
 * builds share .wrangler/tmp and can trip on each other.
 */
export async function buildWorkers(buildDir = BUILD_DIR): Promise<void> {
  await Promise.all([bundleWorker("wrangler.auth.toml", join(buildDir, "auth")), buildPolicyFixtures()]);
  // The gateway under test carries the OPA fixtures, bundled the way a deploy bundles policies/build/.
  await bundleWorker("wrangler.gateway.toml", join(buildDir, "gateway"), { GATEWAY_POLICY_DIR: POLICY_FIXTURES_DIR });
}
