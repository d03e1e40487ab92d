// The principal's context for MCP 2026-07-28 requests (docs/architecture.md): its lifetime (an
// idle alarm that closes the upstream sessions it held, as a session's end does) and the call
// budget it shares with the principal's sessions (mcpProvider.limits.toolCallsPerPrincipal).
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { exchangingProxyApp, startStack, type Stack } from "../helpers/gateway-stack.js";
import { openSession, postMcp, postOnSession } from "../helpers/mcp.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const MODERN = "2026-07-28";
const API = "https://tracker.test";

function callTool(gateway: RunningWorker, name: string, args: Record<string, unknown> = {}) {
  return postMcp(
    gateway,
    {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        name,
        arguments: args,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": MODERN,
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    },
    { "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": name },
  );
}

interface ToolReply {
  result?: { isError?: boolean; content: { text: string }[]; resultType?: string };
}

describe("a principal's context left idle", () => {
  let upstream: RecordingMcpServer;
  let stack: Stack;
  beforeAll(async () => {
    upstream = await startRecordingMcpServer();
    stack = await startStack({
      exchangeAudiences: [API],
      stream: { session: { timeout: "1s" } },
      apps: [exchangingProxyApp("tracker", upstream.url, API)],
    });
  });
  afterAll(async () => {
    await stack.dispose();
    await upstream.close();
  });

  it("ends after the idle timeout and closes the upstream session it held", async () => {
    const gateway = stack.as(await stack.token());
    const res = await callTool(gateway, "tracker__echo", { text: "hello" });
    expect(((await res.json()) as ToolReply).result?.resultType).toBe("complete");
    const upstreamSession = upstream.requests.find((r) => r.rpcMethod === "tools/call")?.sessionId;
    expect(upstreamSession).toBeDefined();
    await vi.waitFor(
      () =>
        expect(upstream.requests.some((r) => r.httpMethod === "DELETE" && r.sessionId === upstreamSession)).toBe(true),
      { timeout: 15_000, interval: 100 },
    );
    // A request after the end starts a fresh context, with a fresh upstream session.
    const again = await callTool(gateway, "tracker__echo", { text: "again" });
    expect(((await again.json()) as ToolReply).result?.content[0]?.text).toBe("again");
  });
});

describe("the principal's tool call budget", () => {
  let upstream: RecordingMcpServer;
  let stack: Stack;
  beforeAll(async () => {
    upstream = await startRecordingMcpServer();
    stack = await startStack({
      exchangeAudiences: [API],
      limits: { toolCallsPerPrincipal: { limit: 3, period: "1h" }, toolCallsPerSession: { limit: 1, period: "1h" } },
      apps: [exchangingProxyApp("tracker", upstream.url, API)],
    });
  });
  afterAll(async () => {
    await stack.dispose();
    await upstream.close();
  });

  it("counts modern calls and the principal's session calls against one budget, and no session budget applies", async () => {
    const gateway = stack.as(await stack.token());
    const sessionId = await openSession(gateway);
    const legacy = await postOnSession(gateway, sessionId, {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "tracker__echo", arguments: { text: "legacy" } },
    });
    expect(((await legacy.json()) as ToolReply).result?.isError).toBeFalsy();
    // Two more fit the principal's budget of three, though a session's budget is one.
    for (const text of ["one", "two"]) {
      const reply = (await (await callTool(gateway, "tracker__echo", { text })).json()) as ToolReply;
      expect(reply.result?.content[0]?.text).toBe(text);
    }
    const refused = (await (await callTool(gateway, "tracker__echo", { text: "three" })).json()) as ToolReply;
    expect(refused.result?.isError).toBe(true);
    expect(refused.result?.content[0]?.text).toMatch(/Too many tool calls by this agent/);
  });
});

describe("policies in the 2026-07-28 era", () => {
  let upstream: RecordingMcpServer;
  let stack: Stack;
  beforeAll(async () => {
    upstream = await startRecordingMcpServer();
    stack = await startStack({
      exchangeAudiences: [API],
      // The stand-in of policies/scopes: write tools need tools:write, others tools:read.
      authorization: { inbound: { opa: { name: "scopes" } }, defaultDecision: "deny" },
      apps: [exchangingProxyApp("tracker", upstream.url, API)],
    });
  });
  afterAll(async () => {
    await stack.dispose();
    await upstream.close();
  });

  async function listTools(gateway: RunningWorker) {
    const res = await postMcp(
      gateway,
      {
        jsonrpc: "2.0",
        id: 1,
        method: "tools/list",
        params: {
          _meta: {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
          },
        },
      },
      { "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list" },
    );
    return (await res.json()) as { result: { tools: { name: string }[]; cacheScope: string } };
  }

  it("filters the list per caller, so one agent's two tokens in one context see different lists, marked private", async () => {
    const writer = stack.as(await stack.token("agent-a", undefined, "tools:read tools:write"));
    const reader = stack.as(await stack.token("agent-a", undefined, "tools:read"));
    const asWriter = await listTools(writer);
    const asReader = await listTools(reader);
    expect(asWriter.result.tools.map((t) => t.name)).toContain("tracker__create_issue");
    expect(asReader.result.tools.map((t) => t.name)).not.toContain("tracker__create_issue");
    expect(asReader.result.cacheScope).toBe("private");
    const before = upstream.requests.filter((r) => r.rpcMethod === "tools/call").length;
    const denied = (await (await callTool(reader, "tracker__create_issue", { title: "no" })).json()) as ToolReply;
    expect(denied.result?.isError).toBe(true);
    expect(upstream.requests.filter((r) => r.rpcMethod === "tools/call").length).toBe(before);
  });
});
