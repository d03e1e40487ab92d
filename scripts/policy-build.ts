// npm run policy:build [-- --bundle <name>=<bundle.tar.gz>]... [--wasm <name>=<policy.wasm>[,<data.json>]]... [--out <dir>]
//
// Compiles the OPA policies under policies/ for the gateway and lays them out in policies/build/,
// which the gateway's build step (scripts/policy-bundle.mjs) bundles into the worker:
//
//   policies/<name>/*.rego   →  opa test policies/<name>
//                               opa build -t wasm -e <package>/decision policies/<name>
//                            →  policies/build/<name>/policy.wasm and data.json
//
// <package> is the `package` of the directory's policy (e.g. mcp.scopes → mcp/scopes/decision):
// every policy here answers in a rule named `decision`. Policies built elsewhere come in with
// --bundle (the bundle.tar.gz `opa build -t wasm` wrote) or --wasm (a bare policy.wasm, with
// its data document if it has one); those need no `opa` here. Without `opa` on PATH and with
// nothing to import, this exits 1 and says how to install it.
//
// policies/build/ (or --out) is rebuilt from scratch on each run: it holds what this run built.
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { gunzipSync } from "node:zlib";

const ROOT = join(import.meta.dirname, "..");
const POLICIES = join(ROOT, "policies");
/** Names the gateway's configuration accepts (apps-schema.ts). */
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

export const INSTALL_OPA = `The opa command is not on PATH. npm run policy:build runs \`opa test\` and \`opa build -t wasm\`.
Install OPA (v0.59 or later; 1.x recommended), then run this again:
  macOS:   brew install opa
  Linux:   curl -L -o opa https://openpolicyagent.org/downloads/latest/opa_linux_amd64_static && chmod 755 opa && sudo mv opa /usr/local/bin/
  Windows: winget install open-policy-agent.opa
  other:   https://www.openpolicyagent.org/docs/latest/#running-opa
Policies built elsewhere need no opa here: npm run policy:build -- --bundle <name>=<bundle.tar.gz>`;

export class PolicyBuildError extends Error {
  override name = "PolicyBuildError";
}

/** The files of a tar archive (ustar, as Go's archive/tar writes OPA bundles), by path without a leading "/". */
export function untar(archive: Uint8Array): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const text = (start: number, length: number) =>
    new TextDecoder().decode(archive.subarray(start, start + length)).replace(/\0.*$/s, "");
  let offset = 0;
  let longName: string | undefined;
  while (offset + 512 <= archive.length) {
    const header = archive.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const size = parseInt(text(offset + 124, 12).trim() || "0", 8);
    const type = String.fromCharCode(header[156]!);
    const prefix = text(offset + 345, 155);
    const name = longName ?? (prefix ? `${prefix}/${text(offset, 100)}` : text(offset, 100));
    const body = archive.subarray(offset + 512, offset + 512 + size);
    longName = undefined;
    if (type === "L") longName = new TextDecoder().decode(body).replace(/\0.*$/s, "");
    else if (type === "0" || type === "\0") files.set(name.replace(/^\.?\//, ""), body);
    // PAX headers ("x", "g") and directories carry nothing a policy bundle needs.
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** Unpacks an OPA wasm bundle (bundle.tar.gz) into <out>/policy.wasm and data.json. */
export function unpackBundle(bundle: Uint8Array, out: string): void {
  const files = untar(gunzipSync(bundle));
  const wasm = files.get("policy.wasm");
  if (!wasm)
    throw new PolicyBuildError(
      `the bundle has no /policy.wasm (is it from opa build -t wasm?); it has: ${[...files.keys()].join(", ") || "nothing"}`,
    );
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "policy.wasm"), wasm);
  const data = files.get("data.json");
  if (data) writeFileSync(join(out, "data.json"), data);
}

function opaAvailable(): boolean {
  return spawnSync("opa", ["version"], { stdio: "ignore" }).status === 0;
}

/** The `decision` rule of the directory's policy, from its package: mcp.scopes → mcp/scopes/decision. */
function entrypointOf(dir: string): string {
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".rego") && !f.endsWith("_test.rego"))) {
    const match = /^package\s+([\w.]+)/m.exec(readFileSync(join(dir, file), "utf8"));
    if (match) return `${match[1]!.replaceAll(".", "/")}/decision`;
  }
  throw new PolicyBuildError(`${dir} has no Rego policy (a .rego file with a package, other than *_test.rego)`);
}

function regoPolicies(): string[] {
  if (!existsSync(POLICIES)) return [];
  return readdirSync(POLICIES).filter((name) => {
    const dir = join(POLICIES, name);
    return name !== "build" && statSync(dir).isDirectory() && readdirSync(dir).some((f) => f.endsWith(".rego"));
  });
}

function opa(args: string[]): void {
  const result = spawnSync("opa", args, { cwd: ROOT, stdio: "inherit" });
  if (result.status !== 0) throw new PolicyBuildError(`opa ${args.join(" ")} failed`);
}

function buildRego(name: string, out: string, output: Output): void {
  if (!NAME.test(name))
    throw new PolicyBuildError(`policies/${name}: a policy's directory name must be 1-64 letters, digits, '_' or '-'`);
  const dir = join("policies", name);
  const entrypoint = entrypointOf(join(ROOT, dir));
  opa(["test", dir]);
  const scratch = mkdtempSync(join(tmpdir(), "policy-build-"));
  try {
    const bundle = join(scratch, "bundle.tar.gz");
    opa(["build", "-t", "wasm", "-e", entrypoint, "--ignore", "*_test.rego", "-o", bundle, dir]);
    unpackBundle(readFileSync(bundle), join(out, name));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  output.log(`✓ ${name}: ${entrypoint}`);
}

function named(spec: string, flag: string): [string, string] {
  const at = spec.indexOf("=");
  const name = spec.slice(0, at);
  if (at < 1 || !NAME.test(name))
    throw new PolicyBuildError(
      `${flag} ${spec}: expected <name>=<file>, the name being 1-64 letters, digits, '_' or '-'`,
    );
  return [name, spec.slice(at + 1)];
}

/** Where messages go: the console, or a test's collector. */
export interface Output {
  log(line: string): void;
  error(line: string): void;
}

export function main(argv: string[], output: Output = console): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      bundle: { type: "string", multiple: true, default: [] },
      wasm: { type: "string", multiple: true, default: [] },
      out: { type: "string", default: join(POLICIES, "build") },
    },
  });
  const out = values.out;
  try {
    let rego = regoPolicies();
    const imports = values.bundle.length + values.wasm.length;
    if (rego.length && !opaAvailable()) {
      output.error(INSTALL_OPA);
      if (!imports) return 1;
      output.error(
        `\nNot built for want of opa: ${rego.map((name) => `policies/${name}`).join(", ")}. Importing the rest.`,
      );
      rego = [];
    }
    rmSync(out, { recursive: true, force: true });
    for (const name of rego) buildRego(name, out, output);
    for (const spec of values.bundle) {
      const [name, file] = named(spec, "--bundle");
      unpackBundle(readFileSync(file), join(out, name));
      output.log(`✓ ${name}: ${basename(file)}`);
    }
    for (const spec of values.wasm) {
      const [name, files] = named(spec, "--wasm");
      const [wasm, data] = files.split(",");
      mkdirSync(join(out, name), { recursive: true });
      copyFileSync(wasm!, join(out, name, "policy.wasm"));
      // Parsed first: a data document that is not JSON fails here, not in the worker.
      if (data) writeFileSync(join(out, name, "data.json"), JSON.stringify(JSON.parse(readFileSync(data, "utf8"))));
      output.log(`✓ ${name}: ${basename(wasm!)}${data ? ` + ${basename(data)}` : ""}`);
    }
    output.log(`Laid out in ${out}; the gateway bundles policies/build/ on its next wrangler deploy or dev.`);
    return 0;
  } catch (err) {
    if (!(
      err instanceof PolicyBuildError ||
      err instanceof SyntaxError ||
      (err as NodeJS.ErrnoException).code === "ENOENT"
    ))
      throw err;
    output.error(`✗ ${(err as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
