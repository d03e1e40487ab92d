// Where policies come from: the gateway carries its OPA policies inside the worker bundle and
// finds them by the name the configuration gives (`authorization.inbound.opa.name`).
//
// Bundling: Workers cannot read files at run time, and compiling wasm
// from bytes at run time is not allowed there either, so a policy must be a static import
// that Wrangler uploads as a CompiledWasm module. `npm run policy:build` compiles each Rego
// policy under policies/ with `opa build -t wasm` and unpacks it into policies/build/<name>/
// (policy.wasm, data.json); Wrangler's custom build step (scripts/policy-bundle.mjs, [build] in
// wrangler.gateway.toml) then writes bundled.generated.js, which imports every policy found
// there. With nothing built, that list is empty and `npm run dev` / CI bundles still work.

/** One policy in the worker bundle: `opa build -t wasm` output, by name. */
export interface BundledPolicy {
  /** The directory name under policies/build/, which configuration refers to. */
  name: string;
  /** policy.wasm, compiled by the runtime when the worker was loaded. */
  wasm: WebAssembly.Module;
  /** data.json of the bundle: the policy's `data` document. */
  data?: unknown;
}

export interface PolicyRegistry {
  get(name: string): BundledPolicy | undefined;
  names(): string[];
}

export function createPolicyRegistry(policies: readonly BundledPolicy[]): PolicyRegistry {
  const byName = new Map(policies.map((policy) => [policy.name, policy]));
  return {
    get: (name) => byName.get(name),
    names: () => [...byName.keys()],
  };
}
