// Which era a POST to the MCP endpoint belongs to (MCP 2026-07-28 basic/versioning, "Backward
// Compatibility"; docs/mcp-endpoint.md), as the front decides it before any session or context is
// touched. Requests of a 2025 session skip the SDK's classifier when nothing in them can claim
// the per-request era; these rules must answer exactly as the classifier would, including for
// what a hostile caller sends. In-process, no I/O.
import { classifyInboundRequest } from "@modelcontextprotocol/server";
import { describe, expect, it } from "vitest";
import { JsonRpcError } from "../../src/core/errors.js";
import { classifyPost, type Era } from "../../src/gateway/mcp/post-era.js";

const LIMITS = { maxJsonDepth: 32, batchSize: 20 };
const CLAIM = "io.modelcontextprotocol/protocolVersion";
const ENVELOPE = {
  [CLAIM]: "2026-07-28",
  "io.modelcontextprotocol/clientInfo": { name: "agent", version: "1.0.0" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

type Outcome = { kind: Era["kind"] } | { code: number; status: number };

/** `body` as JSON text, or the text itself when `raw`. */
function classify(body: unknown, headers: Record<string, string> = {}, raw = false): Outcome {
  const text = raw ? String(body) : JSON.stringify(body);
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  try {
    return { kind: classifyPost((name) => lower[name.toLowerCase()], text, LIMITS).kind };
  } catch (err) {
    if (!(err instanceof JsonRpcError)) throw err;
    return { code: err.code, status: err.httpStatus };
  }
}

const session = { "MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": "s" };
const call = (params: Record<string, unknown>) => ({ jsonrpc: "2.0", id: 1, method: "tools/call", params });

describe("era of a POST", () => {
  it("routes a session's tool call, notification, response and batch the legacy way, body already parsed", () => {
    expect(classify(call({ name: "t", arguments: {} }), session)).toEqual({ kind: "legacy" });
    expect(classify({ jsonrpc: "2.0", method: "notifications/initialized" }, session)).toEqual({ kind: "legacy" });
    expect(classify({ jsonrpc: "2.0", id: 3, result: {} }, session)).toEqual({ kind: "legacy" });
    expect(classify([call({ name: "t" }), { jsonrpc: "2.0", method: "x" }], {})).toEqual({ kind: "legacy" });
    const era = classifyPost(() => "2025-11-25", JSON.stringify(call({ name: "t" })), LIMITS);
    expect(era).toEqual({ kind: "legacy", parsed: { body: call({ name: "t" }) } });
  });

  it("leaves what is no JSON-RPC message to the legacy parser, which refuses it", () => {
    expect(classify({ hello: "world" }, session)).toEqual({ kind: "legacy" });
    expect(classify(42, session)).toEqual({ kind: "legacy" });
    expect(classify("{not json", session, true)).toEqual({ kind: "legacy" });
    expect(classify("{not json", { "MCP-Protocol-Version": "2026-07-28" }, true)).toEqual({
      code: -32700,
      status: 400,
    });
  });

  it("refuses a session's POST whose body claims the per-request era (-32020, header and body disagree)", () => {
    expect(classify(call({ name: "t", _meta: ENVELOPE }), session)).toEqual({ code: -32020, status: 400 });
  });

  it("refuses a batch with a message that claims the per-request era (-32600)", () => {
    const batch = [call({ name: "t" }), call({ name: "u", _meta: ENVELOPE })];
    expect(classify(batch, { "MCP-Protocol-Version": "2025-03-26" })).toEqual({ code: -32600, status: 400 });
  });

  it("refuses a malformed claim rather than serving it as legacy (-32602)", () => {
    expect(classify(call({ name: "t", _meta: { [CLAIM]: 7 } }))).toEqual({ code: -32602, status: 400 });
  });

  it("refuses a request naming a per-request revision in its header but not in its body (-32602)", () => {
    expect(classify(call({ name: "t" }), { "MCP-Protocol-Version": "2026-07-28" })).toEqual({
      code: -32602,
      status: 400,
    });
    // A revision this gateway does not know yet is still a per-request one to the classifier.
    expect(classify(call({ name: "t" }), { "MCP-Protocol-Version": "2099-01-01" })).toEqual({
      code: -32602,
      status: 400,
    });
  });

  it("serves a request whose body claims the per-request era the modern way", () => {
    expect(
      classify(call({ name: "t", _meta: ENVELOPE }), {
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
      }),
    ).toEqual({ kind: "modern" });
  });

  it("routes every body and header the way the SDK's classifier alone does", () => {
    const bodies: unknown[] = [
      call({ name: "t" }),
      call({ name: "t", _meta: {} }),
      call({ name: "t", _meta: { progressToken: 1 } }),
      call({ name: "t", _meta: ENVELOPE }),
      call({ name: "t", _meta: { [CLAIM]: "2025-11-25" } }),
      call({ name: "t", _meta: { [CLAIM]: null } }),
      { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25" } },
      { jsonrpc: "2.0", id: 0, method: "initialize", params: { _meta: ENVELOPE } },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", method: "notifications/x", params: { _meta: ENVELOPE } },
      { jsonrpc: "2.0", id: 2, result: {} },
      { jsonrpc: "2.0", id: 2, error: { code: 1, message: "m" } },
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: [] },
      { jsonrpc: "1.0", id: 2, method: "tools/call" },
      [],
      [call({ name: "t" })],
      [call({ name: "t" }), 5],
      [call({ name: "t", _meta: ENVELOPE })],
      { hello: "world" },
      "text",
      null,
    ];
    const headerSets: Record<string, string>[] = [
      {},
      { "MCP-Protocol-Version": "2025-11-25" },
      { "MCP-Protocol-Version": " 2025-06-18 " },
      { "MCP-Protocol-Version": "2025-03-26", "Mcp-Method": "other" },
      { "MCP-Protocol-Version": "2026-07-28" },
      { "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call" },
      { "MCP-Protocol-Version": "garbage" },
    ];
    for (const body of bodies) {
      for (const headers of headerSets) {
        expect(classify(body, headers), JSON.stringify({ body, headers })).toEqual(reference(body, headers));
      }
    }
  });
});

/** What the front answered before it routed anything itself: the SDK's classifier for every parsed body. */
function reference(body: unknown, headers: Record<string, string>): Outcome {
  const version = headers["MCP-Protocol-Version"]?.trim();
  const modernHeader = version === "2026-07-28";
  const outcome = classifyInboundRequest({
    httpMethod: "POST",
    body,
    ...(version !== undefined ? { protocolVersionHeader: version } : {}),
    ...(headers["Mcp-Method"] !== undefined ? { mcpMethodHeader: headers["Mcp-Method"] } : {}),
  });
  if (outcome.kind === "legacy" || outcome.kind === "modern") return { kind: outcome.kind };
  if (outcome.rung === "jsonrpc-shape" && outcome.cell !== "batch-with-modern-element" && !modernHeader)
    return { kind: "legacy" };
  return { code: outcome.code, status: outcome.httpStatus };
}
