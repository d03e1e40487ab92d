// npm run policy:build without `opa` (none can be installed on these machines): the install
// instructions, and laying out policies built elsewhere (bundle.tar.gz or a bare policy.wasm).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { main, type Output } from "../../scripts/policy-build.js";
import { POLICY_FIXTURES_DIR } from "../helpers/opa-fixtures.js";

/** A tar.gz laid out as `opa build` writes a bundle: ustar entries named with a leading "/". */
function opaBundle(files: Record<string, Uint8Array | string>): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, content] of Object.entries(files)) {
    const body = Buffer.from(content);
    const header = Buffer.alloc(512);
    header.write(name, 0);
    header.write("0000644\0", 100);
    header.write("0000000\0", 108);
    header.write("0000000\0", 116);
    header.write(`${body.length.toString(8).padStart(11, "0")}\0`, 124);
    header.write("00000000000\0", 136);
    header.write("        ", 148);
    header.write("0", 156);
    header.write("ustar\x0000", 257);
    header.write(
      `${header
        .reduce((sum, byte) => sum + byte, 0)
        .toString(8)
        .padStart(6, "0")}\0 `,
      148,
    );
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

describe("npm run policy:build", () => {
  const scratch = mkdtempSync(join(tmpdir(), "policy-build-test-"));
  const out = join(scratch, "build");
  const wasm = readFileSync(join(POLICY_FIXTURES_DIR, "scopes", "policy.wasm"));
  const path = process.env.PATH;
  let errors: string[];
  let output: Output;

  beforeEach(() => {
    process.env.PATH = ""; // no opa, whatever this machine has
    errors = [];
    output = { log: () => {}, error: (line) => void errors.push(line) };
  });
  afterEach(() => {
    process.env.PATH = path;
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("exits 1 and says how to install opa when it is not on PATH", () => {
    expect(main(["--out", out], output)).toBe(1);
    expect(errors.join("\n")).toMatch(/The opa command is not on PATH[\s\S]*brew install opa/);
  });

  it("lays out a bundle.tar.gz from opa build -t wasm: policy.wasm and data.json", () => {
    const bundle = join(scratch, "bundle.tar.gz");
    writeFileSync(
      bundle,
      opaBundle({
        "/data.json": '{"business_hours":{"start_hour":9}}',
        "/policy.wasm": wasm,
        "/.manifest": '{"revision":""}',
      }),
    );
    expect(main(["--bundle", `github-policy=${bundle}`, "--out", out], output)).toBe(0);
    expect(readFileSync(join(out, "github-policy", "policy.wasm")).equals(wasm)).toBe(true);
    expect(JSON.parse(readFileSync(join(out, "github-policy", "data.json"), "utf8"))).toEqual({
      business_hours: { start_hour: 9 },
    });
  });

  it("lays out a bare policy.wasm with its data document", () => {
    const bare = join(scratch, "policy.wasm");
    const data = join(scratch, "data.json");
    writeFileSync(bare, wasm);
    writeFileSync(data, '{ "tools": [] }');
    expect(main(["--wasm", `crm=${bare},${data}`, "--out", out], output)).toBe(0);
    expect(readFileSync(join(out, "crm", "policy.wasm")).equals(wasm)).toBe(true);
    expect(readFileSync(join(out, "crm", "data.json"), "utf8")).toBe('{"tools":[]}');
  });

  it("refuses a bundle that holds no policy.wasm", () => {
    const bundle = join(scratch, "rego-only.tar.gz");
    writeFileSync(bundle, opaBundle({ "/policy.rego": "package x", "/data.json": "{}" }));
    expect(main(["--bundle", `x=${bundle}`, "--out", out], output)).toBe(1);
    expect(errors.join("\n")).toContain("the bundle has no /policy.wasm");
  });
});
