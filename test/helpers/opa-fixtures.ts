// The OPA wasm test fixtures (AssemblyScript sources in test/fixtures/opa/; its README says what
// they stand in for), compiled at test time into the layout `npm run policy:build` gives
// policies/build/ — <dir>/<name>/policy.wasm and data.json — so that the gateway under test
// bundles them through the same build step (scripts/policy-bundle.mjs) a deploy uses.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import asc from "assemblyscript/asc";
import type { BundledPolicy } from "../../src/gateway/policy/registry.js";

const ROOT = join(import.meta.dirname, "..", "..");
const SOURCES = join(ROOT, "test", "fixtures", "opa");
export const POLICY_FIXTURES_DIR = join(ROOT, ".build", "test", "opa");

/** Each fixture, and the data document it is loaded with: the example's own where it stands in for one. */
export const POLICY_FIXTURES = {
  scopes: undefined,
  "business-hours": "policies/business-hours/data.json",
  "argument-groups": "policies/argument-groups/data.json",
  "app-groups": "policies/app-groups/data.json",
  echo: "test/fixtures/opa/echo.data.json",
  trap: undefined,
  shapes: undefined,
  "not-a-policy": undefined,
} as const satisfies Record<string, string | undefined>;

export type PolicyFixture = keyof typeof POLICY_FIXTURES;

/** Writes through a temporary name: other test runs on this machine may be reading the file. */
async function writeAtomically(file: string, contents: Uint8Array | string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, contents);
  await rename(temporary, file);
}

async function compile(name: PolicyFixture): Promise<Uint8Array> {
  let binary: Uint8Array | undefined;
  const result = await asc.main(
    [
      join(SOURCES, `${name}.ts`),
      "--outFile",
      `${name}.wasm`,
      // Memory comes from the host (env.memory) as with `opa build`; no AssemblyScript runtime
      // or abort import, which the OPA SDK would not provide.
      "--runtime",
      "stub",
      "--importMemory",
      "--use",
      "abort=",
      "--noAssert",
      "--optimizeLevel",
      "2",
    ],
    {
      writeFile: (_file: string, contents: Uint8Array | string) => {
        if (typeof contents !== "string") binary = contents;
      },
    },
  );
  if (result.error || !binary)
    throw new Error(`compiling the ${name} policy fixture failed:\n${result.stderr.toString()}`);
  return binary;
}

/** Compiles the fixtures named (all by default) into `into` (POLICY_FIXTURES_DIR by default). */
export async function buildPolicyFixtures(
  names: readonly PolicyFixture[] = Object.keys(POLICY_FIXTURES) as PolicyFixture[],
  into = POLICY_FIXTURES_DIR,
): Promise<void> {
  for (const name of names) {
    const data = POLICY_FIXTURES[name];
    const dir = join(into, name);
    await mkdir(dir, { recursive: true });
    await writeAtomically(join(dir, "policy.wasm"), await compile(name));
    if (data) await writeAtomically(join(dir, "data.json"), await readFile(join(ROOT, data)));
  }
}

/** The built fixtures, as the worker's bundle would list them (Node compiles the wasm here). */
export async function loadPolicyFixtures(): Promise<BundledPolicy[]> {
  return Promise.all(
    (Object.entries(POLICY_FIXTURES) as [PolicyFixture, string | undefined][]).map(async ([name, data]) => {
      const dir = join(POLICY_FIXTURES_DIR, name);
      const wasm = new WebAssembly.Module(await readFile(join(dir, "policy.wasm")));
      return data
        ? { name, wasm, data: JSON.parse(await readFile(join(dir, "data.json"), "utf8")) as unknown }
        : { name, wasm };
    }),
  );
}
