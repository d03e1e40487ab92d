// Pure rules of the MCP Proxy app's 2026-07-28 client: the request metadata headers
// (basic/transports/streamable-http, "Request Metadata"), which client capabilities an input
// request needs (basic/patterns/mrtr), how an upstream's answer to the probe tells its era
// (basic/versioning), and what of a result passes on. In-process, no I/O.
import { describe, expect, it } from "vitest";
import { missingCapability } from "../../src/gateway/apps/input-required.js";
import { completedResult, eraOfDiscovery, eraOfRefusal } from "../../src/gateway/apps/modern-protocol.js";
import {
  headerParameters,
  headerValue,
  parameterHeaders,
  standardHeaders,
} from "../../src/gateway/apps/request-headers.js";

describe("header values", () => {
  it.each([
    ["us-west1", "us-west1"],
    ["Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="],
    [" padded ", "=?base64?IHBhZGRlZCA=?="],
    ["line1\nline2", "=?base64?bGluZTEKbGluZTI=?="],
    ["=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="],
  ])("encodes %j as the transport's examples do", (value, encoded) => {
    expect(headerValue(value)).toBe(encoded);
  });

  it("sends Mcp-Method always and Mcp-Name for the requests that name something", () => {
    expect(standardHeaders("tools/list", undefined)).toEqual({ "Mcp-Method": "tools/list" });
    expect(standardHeaders("tools/call", { name: "get_weather" })).toEqual({
      "Mcp-Method": "tools/call",
      "Mcp-Name": "get_weather",
    });
    expect(standardHeaders("resources/read", { uri: "file:///a b" })).toEqual({
      "Mcp-Method": "resources/read",
      "Mcp-Name": "file:///a b",
    });
    expect(standardHeaders("prompts/get", { name: "grüße" })["Mcp-Name"]).toBe("=?base64?Z3LDvMOfZQ==?=");
  });
});

describe("x-mcp-header annotations", () => {
  const schema = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    type: "object",
    properties,
    ...extra,
  });

  it("finds annotated parameters at the root and in nested objects, and mirrors their values", () => {
    const found = headerParameters(
      schema({
        region: { type: "string", "x-mcp-header": "Region" },
        options: { type: "object", properties: { dry: { type: "boolean", "x-mcp-header": "Dry-Run" } } },
        limit: { type: "integer", "x-mcp-header": "Limit" },
        "x-mcp-header": { type: "string" }, // a parameter of that name is no annotation
      }),
    );
    expect(found).toEqual({
      parameters: [
        { name: "Region", path: ["region"] },
        { name: "Dry-Run", path: ["options", "dry"] },
        { name: "Limit", path: ["limit"] },
      ],
    });
    if (!("parameters" in found)) throw new Error("unreachable");
    expect(parameterHeaders(found.parameters, { region: "eu", options: { dry: false }, limit: 42 })).toEqual({
      "Mcp-Param-Region": "eu",
      "Mcp-Param-Dry-Run": "false",
      "Mcp-Param-Limit": "42",
    });
    // Absent and null values have no header.
    expect(parameterHeaders(found.parameters, { region: null, options: "not an object" })).toEqual({});
  });

  it.each([
    ["an array item", schema({ list: { type: "array", items: { type: "string", "x-mcp-header": "Item" } } })],
    ["a oneOf branch", schema({ a: { oneOf: [{ type: "string", "x-mcp-header": "A" }] } })],
    ["a $defs entry", schema({}, { $defs: { a: { type: "string", "x-mcp-header": "A" } } })],
    ["the root", { type: "object", "x-mcp-header": "Root" }],
    ["a name that is not a token", schema({ a: { type: "string", "x-mcp-header": "A B" } })],
    ["an empty name", schema({ a: { type: "string", "x-mcp-header": "" } })],
    ["a number parameter", schema({ a: { type: "number", "x-mcp-header": "A" } })],
    ["an object parameter", schema({ a: { type: "object", "x-mcp-header": "A" } })],
    [
      "a name repeated in another case",
      schema({ a: { type: "string", "x-mcp-header": "Zone" }, b: { type: "string", "x-mcp-header": "zone" } }),
    ],
  ])("makes the tool invalid when on %s", (_where, inputSchema) => {
    expect(headerParameters(inputSchema)).toHaveProperty("invalid");
  });

  it("ignores the key inside data keywords (const, enum, default, examples)", () => {
    expect(headerParameters(schema({ a: { type: "object", default: { "x-mcp-header": "X" } } }))).toEqual({
      parameters: [],
    });
  });
});

describe("capabilities an input request needs of the agent", () => {
  it.each([
    ["elicitation/create", {}, { elicitation: {} }, undefined],
    ["elicitation/create", {}, { elicitation: { form: {} } }, undefined],
    ["elicitation/create", {}, { elicitation: { url: {} } }, { elicitation: { form: {} } }],
    ["elicitation/create", { mode: "url" }, { elicitation: {} }, { elicitation: { url: {} } }],
    ["elicitation/create", { mode: "url" }, { elicitation: { url: {} } }, undefined],
    ["elicitation/create", {}, {}, { elicitation: { form: {} } }],
    ["sampling/createMessage", {}, { sampling: {} }, undefined],
    ["sampling/createMessage", { tools: [] }, { sampling: {} }, { sampling: { tools: {} } }],
    ["sampling/createMessage", {}, {}, { sampling: {} }],
    ["roots/list", {}, { roots: {} }, undefined],
    ["roots/list", {}, { sampling: {} }, { roots: {} }],
    ["tools/call", {}, { elicitation: {} }, "unknown"],
  ])("%s %j of an agent declaring %j: missing %j", (method, params, declared, missing) => {
    expect(missingCapability(method, params, declared)).toEqual(missing);
  });
});

describe("the era an upstream's answer to the probe tells", () => {
  it("is modern for a discovery result listing 2026-07-28, with the lists it offers", () => {
    expect(eraOfDiscovery({ supportedVersions: ["2026-07-28"], capabilities: { tools: {}, logging: {} } })).toEqual({
      era: "modern",
      offers: { tools: true, prompts: false, resources: false, logging: true, completions: false },
    });
  });

  it("is legacy for a result of another shape or without 2026-07-28", () => {
    expect(eraOfDiscovery({ tools: [] })).toEqual({ era: "legacy" });
    expect(eraOfDiscovery({ supportedVersions: ["2099-01-01"], capabilities: {} })).toEqual({ era: "legacy" });
  });

  it("is modern for a recognized modern error, legacy for any other error or none", () => {
    expect(eraOfRefusal({ code: -32020 })).toMatchObject({ era: "modern" });
    expect(eraOfRefusal({ code: -32022, data: { supported: ["2026-07-28", "2025-11-25"] } })).toMatchObject({
      era: "modern",
    });
    expect(eraOfRefusal({ code: -32022, data: { supported: ["2025-11-25"] } })).toEqual({ era: "legacy" });
    expect(eraOfRefusal({ code: -32000 })).toEqual({ era: "legacy" });
    expect(eraOfRefusal({ code: -32601 })).toEqual({ era: "legacy" });
    expect(eraOfRefusal(undefined)).toEqual({ era: "legacy" });
  });
});

describe("a completed modern result", () => {
  it("loses resultType, ttlMs and cacheScope and keeps the rest", () => {
    expect(
      completedResult("a", "resources/read", {
        resultType: "complete",
        ttlMs: 1000,
        cacheScope: "public",
        contents: [],
        _meta: { k: 1 },
      }),
    ).toEqual({ contents: [], _meta: { k: 1 } });
    expect(completedResult("a", "tools/call", { content: [] })).toEqual({ content: [] });
  });

  it("is refused with a resultType the gateway does not know", () => {
    expect(() => completedResult("a", "tools/call", { resultType: "task", content: [] })).toThrow(
      "upstream answered tools/call with a result of unknown resultType",
    );
  });
});
