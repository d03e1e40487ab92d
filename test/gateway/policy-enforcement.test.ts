// Policy enforcement end to end in workerd: the gateway bundles the OPA wasm fixtures (the
// global setup points its build step at them), a global policy decides every call and listing,
// apps add their own, and each decision leaves an audit event. The upstream is a real MCP
// server that records what reaches it, so a deny can be shown to cost no exchange and no call.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startAuditSink, type AuditSinkServer } from "../helpers/audit-sink.js";
import { startStack, type Stack } from "../helpers/gateway-stack.js";
import { openSession, postOnSession } from "../helpers/mcp.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const GITHUB_API = "https://api.github.test";
const DENIED = "The gateway's policy does not allow this tool call.";

let upstream: RecordingMcpServer;
let sink: AuditSinkServer;
let stack: Stack;
/** An agent whose token carries tools:read and tools:write. */
let writer: RunningWorker;
/** An agent whose token carries tools:read only. */
let reader: RunningWorker;

/** An MCP Proxy app on the recording upstream, under its own namespace, with an app policy. */
function app(name: string, policy?: Record<string, unknown>) {
  return {
    name,
    type: "mcpProxy",
    upstream: { stream: { url: upstream.url } },
    authorization: {
      ...(policy ? { inbound: { opa: policy } } : {}),
      outbound: { type: "tokenExchange", tokenExchange: { idp: "auth", audience: GITHUB_API, defaults: { ttl: "30s" } } },
    },
  };
}

beforeAll(async () => {
  [upstream, sink] = await Promise.all([startRecordingMcpServer(), startAuditSink()]);
  stack = await startStack({
    exchangeAudiences: [GITHUB_API],
    audit: { sink: { url: sink.url, flushInterval: "20ms" } },
    // The stand-in of policies/scopes: write tools need tools:write, others tools:read.
    authorization: { inbound: { opa: { name: "scopes" } }, defaultDecision: "deny" },
    apps: [
      app("github"),
      app("probe", { name: "echo", entrypoint: "test/echo/decision" }),
      app("buggy", { name: "trap", entrypoint: "test/trap/decision" }),
      app("odd", { name: "shapes", entrypoint: "test/shapes/allowed_string" }),
      app("ghost", { name: "never-built" }),
    ],
  });
  [writer, reader] = await Promise.all([
    stack.token("agent-a").then((token) => stack.as(token)),
    stack.token("agent-b", undefined, "tools:read").then((token) => stack.as(token)),
  ]);
});
afterAll(async () => {
  await stack.dispose();
  await Promise.all([upstream.close(), sink.close()]);
});

let nextId = 1;
async function listTools(gateway: RunningWorker): Promise<string[]> {
  const sessionId = await openSession(gateway);
  const res = await postOnSession(gateway, sessionId, { jsonrpc: "2.0", id: ++nextId, method: "tools/list" });
  return ((await res.json()) as { result: { tools: { name: string }[] } }).result.tools.map((tool) => tool.name);
}

type ToolReply = { result: { isError?: boolean; content: { text: string }[] } };
async function call(gateway: RunningWorker, sessionId: string, name: string, args: Record<string, unknown>): Promise<ToolReply["result"]> {
  const res = await postOnSession(gateway, sessionId, { jsonrpc: "2.0", id: ++nextId, method: "tools/call", params: { name, arguments: args } });
  expect(res.status).toBe(200);
  return ((await res.json()) as ToolReply).result;
}

function upstreamCalls(tool: string): number {
  return upstream.requests.filter((r) => r.rpcMethod === "tools/call" && (r.params as { name: string }).name === tool).length;
}

async function auditOf(sessionId: string, tool: string): Promise<Record<string, unknown>> {
  return vi.waitFor(() => {
    const event = sink.events.find((e) => e.session_id === sessionId && e.tool === tool);
    if (!event) throw new Error(`no audit event yet for ${tool}`);
    return event;
  });
}

describe("tools/list", () => {
  it("hides the tools the caller's token could never call", async () => {
    const [asReader, asWriter] = await Promise.all([listTools(reader), listTools(writer)]);
    expect(asReader).toContain("github__echo");
    expect(asReader).not.toContain("github__create_issue");
    expect(asWriter).toEqual(expect.arrayContaining(["github__echo", "github__create_issue"]));
  });

  it("hides every tool of an app whose policy fails, is misshapen or is missing", async () => {
    const names = await listTools(writer);
    expect(names.filter((name) => /^(buggy|odd|ghost)__/.test(name))).toEqual([]);
    expect(names).toContain("probe__echo");
  });
});

describe("tools/call", () => {
  it("denies with the policy's message, before any token exchange or upstream request, and audits why", async () => {
    const sessionId = await openSession(reader);
    const before = upstreamCalls("create_issue");
    const result = await call(reader, sessionId, "github__create_issue", { title: "not allowed" });
    expect(result).toEqual({ isError: true, content: [{ type: "text", text: "this tool needs the tools:write scope" }] });
    expect(upstreamCalls("create_issue")).toBe(before);
    const event = await auditOf(sessionId, "github__create_issue");
    expect(event).toMatchObject({ agent: "agent-b", user: "agent-b", app: "github", decision: "deny", outcome: "denied", policy: "scopes", reason: "token lacks scope tools:write" });
    expect(event).not.toHaveProperty("token_jti");
  });

  it("forwards a call the policy allows and audits which policy decided", async () => {
    const sessionId = await openSession(writer);
    const result = await call(writer, sessionId, "github__create_issue", { title: "allowed" });
    expect(result.isError).toBeUndefined();
    expect(result.content[0]?.text).toMatch(/created issue #\d+: allowed/);
    expect(await auditOf(sessionId, "github__create_issue")).toMatchObject({ agent: "agent-a", decision: "allow", outcome: "success", policy: "scopes", token_jti: expect.any(String) });
  });

  it("asks the app's own policy after the global one, with the documented input", async () => {
    const sessionId = await openSession(writer);
    const result = await call(writer, sessionId, "probe__echo", { text: "hi" });
    expect(result.content[0]?.text).toBe("hi");
    // The echo fixture allows and gives the input's session.id as its reason.
    expect(await auditOf(sessionId, "probe__echo")).toMatchObject({ decision: "allow", policy: "echo", reason: sessionId });
  });

  it.each([
    ["buggy__echo", "trap", /policy "trap" failed: .*unreachable/],
    ["odd__echo", "shapes", /wrong shape: allowed is a string/],
    ["ghost__echo", "never-built", /no policy named "never-built" is in the worker bundle/],
  ])("fails closed on %s (policy %s)", async (tool, policy, reason) => {
    const sessionId = await openSession(writer);
    const before = upstreamCalls("echo");
    expect(await call(writer, sessionId, tool, { text: "x" })).toEqual({ isError: true, content: [{ type: "text", text: DENIED }] });
    expect(upstreamCalls("echo")).toBe(before);
    expect(await auditOf(sessionId, tool)).toMatchObject({ decision: "deny", outcome: "denied", policy, reason: expect.stringMatching(reason) });
  });

  it("decides concurrent calls of different agents in one isolate on their own inputs", async () => {
    const [readerSession, writerSession] = await Promise.all([openSession(reader), openSession(writer)]);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        i % 2 ? call(reader, readerSession, "github__create_issue", { title: `r${i}` }) : call(writer, writerSession, "github__create_issue", { title: `w${i}` }),
      ),
    );
    results.forEach((result, i) => expect(result.isError === true).toBe(i % 2 === 1));
  });
});
