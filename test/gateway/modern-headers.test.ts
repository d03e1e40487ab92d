// The request metadata header rules of MCP 2026-07-28 Streamable HTTP, as pure functions
// (src/gateway/mcp/modern-headers.ts): what a hostile or broken client may send in them.
import { describe, expect, it } from "vitest";
import {
  checkParamHeaders,
  checkStandardHeaders,
  decodeHeaderValue,
  paramHeadersOf,
} from "../../src/gateway/mcp/modern-headers.js";

const b64 = (text: string) => `=?base64?${Buffer.from(text, "utf8").toString("base64")}?=`;

function refusal(run: () => void): { code: number; httpStatus: number; id: unknown } | undefined {
  try {
    run();
    return undefined;
  } catch (err) {
    return err as { code: number; httpStatus: number; id: unknown };
  }
}

describe("header values", () => {
  it("decodes the spec's examples of the Base64 sentinel", () => {
    expect(decodeHeaderValue("us-west1")).toBe("us-west1");
    expect(decodeHeaderValue("=?base64?SGVsbG8sIOS4lueVjA==?=")).toBe("Hello, 世界");
    expect(decodeHeaderValue("=?base64?IHBhZGRlZCA=?=")).toBe(" padded ");
    expect(decodeHeaderValue("=?base64?bGluZTEKbGluZTI=?=")).toBe("line1\nline2");
    expect(decodeHeaderValue("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=")).toBe("=?base64?literal?=");
  });

  it("refuses what is neither plain visible ASCII nor a well-formed sentinel of UTF-8", () => {
    for (const bad of [
      "café",
      "a\u0000b",
      "=?base64?not base64?=",
      "=?base64?abc?=",
      "=?base64?/w==?=",
      "=?BASE64?YQ==?=",
    ]) {
      if (bad === "=?BASE64?YQ==?=") expect(decodeHeaderValue(bad)).toBe(bad);
      else expect(decodeHeaderValue(bad), bad).toBeUndefined();
    }
  });
});

describe("standard headers", () => {
  const call = { id: 3, method: "tools/call", params: { name: "a__b" } };

  it("requires MCP-Protocol-Version and Mcp-Method, and Mcp-Name where the body names something", () => {
    expect(refusal(() => checkStandardHeaders({ method: "tools/call", name: "a__b" }, call))).toMatchObject({
      code: -32020,
      httpStatus: 400,
      id: 3,
    });
    expect(refusal(() => checkStandardHeaders({ protocolVersion: "2026-07-28", name: "a__b" }, call))?.code).toBe(
      -32020,
    );
    expect(
      refusal(() => checkStandardHeaders({ protocolVersion: "2026-07-28", method: "tools/call" }, call))?.code,
    ).toBe(-32020);
    expect(
      refusal(() =>
        checkStandardHeaders({ protocolVersion: "2026-07-28", method: "tools/list" }, { id: 1, method: "tools/list" }),
      ),
    ).toBeUndefined();
  });

  it("compares Mcp-Name with the body after decoding, for names and URIs", () => {
    const headers = { protocolVersion: "2026-07-28", method: "tools/call" };
    expect(refusal(() => checkStandardHeaders({ ...headers, name: b64("a__b") }, call))).toBeUndefined();
    expect(refusal(() => checkStandardHeaders({ ...headers, name: "a__c" }, call))?.code).toBe(-32020);
    const read = { id: "x", method: "resources/read", params: { uri: "file:///ü" } };
    expect(
      refusal(() => checkStandardHeaders({ ...headers, method: "resources/read", name: b64("file:///ü") }, read)),
    ).toBeUndefined();
    expect(
      refusal(() => checkStandardHeaders({ ...headers, method: "resources/read", name: "file:///u" }, read))?.id,
    ).toBe("x");
  });
});

describe("x-mcp-header declarations", () => {
  it("finds declarations on primitive properties reached through properties alone", () => {
    const declared = paramHeadersOf({
      type: "object",
      properties: {
        region: { type: "string", "x-mcp-header": "Region" },
        nested: { type: "object", properties: { tenant: { type: "integer", "x-mcp-header": "Tenant" } } },
        list: { type: "array", items: { type: "object", properties: { x: { type: "string", "x-mcp-header": "X" } } } },
        ratio: { type: "number", "x-mcp-header": "Ratio" },
        spaced: { type: "string", "x-mcp-header": "Bad Name" },
      },
    });
    expect(declared).toEqual([
      { header: "Region", path: ["region"], type: "string" },
      { header: "Tenant", path: ["nested", "tenant"], type: "integer" },
    ]);
  });

  it("requires the header when the argument is present, and compares after decoding", () => {
    const declared = paramHeadersOf({
      type: "object",
      properties: {
        region: { type: "string", "x-mcp-header": "Region" },
        limit: { type: "integer", "x-mcp-header": "Limit" },
        dry: { type: "boolean", "x-mcp-header": "Dry" },
      },
    });
    const ok = (args: Record<string, unknown>, headers: Record<string, string>) =>
      refusal(() => checkParamHeaders(9, declared, args, headers)) === undefined;
    expect(ok({}, {})).toBe(true);
    expect(ok({ region: null }, {})).toBe(true);
    expect(ok({ region: "eu" }, {})).toBe(false);
    expect(ok({ region: "eu" }, { region: "eu" })).toBe(true);
    expect(ok({ region: "Zürich" }, { region: b64("Zürich") })).toBe(true);
    expect(ok({ region: "Zürich" }, { region: "Zurich" })).toBe(false);
    expect(ok({ limit: 42 }, { limit: "42.0" })).toBe(true);
    expect(ok({ limit: 42 }, { limit: "" })).toBe(false);
    expect(ok({ limit: 42 }, { limit: "43" })).toBe(false);
    expect(ok({ dry: false }, { dry: "false" })).toBe(true);
    expect(ok({ dry: false }, { dry: "False" })).toBe(false);
    expect(ok({ region: "eu" }, { region: "=?base64?***?=" })).toBe(false);
  });
});
