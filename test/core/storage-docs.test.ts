// docs/storage.md is the written schema of what the tiers store: every Redis key family the code
// builds (`aig:<kind>:…`) must be documented there, so a new key cannot go in unwritten.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const doc = readFileSync(join(ROOT, "docs", "storage.md"), "utf8");

/** Every TypeScript file under `dir`, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The fixed part of each Redis key the code writes: `aig:code:`, `aig:rf-retry:`, `aig:epoch`. */
const keyPrefixes = [
  ...new Set(
    [join(ROOT, "src"), join(ROOT, "durable-objects")]
      .flatMap(sources)
      .flatMap((file) => [...readFileSync(file, "utf8").matchAll(/["`](aig:[a-z-]+:?)/g)].map((m) => m[1]!)),
  ),
];

describe("the storage schema (docs/storage.md)", () => {
  it("finds the store's keys in the code", () => {
    expect(keyPrefixes).toEqual(expect.arrayContaining(["aig:code:", "aig:rf:", "aig:revoked:", "aig:epoch"]));
  });

  it.each(keyPrefixes)("documents %s", (prefix) => {
    expect(doc).toContain(`\`${prefix}`);
  });
});
