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
/** The upstream of the ops app alone, whose resources are ops://…, kept to the sre group by app-groups. */
let opsUpstream: RecordingMcpServer;
let sink: AuditSinkServer;
let stack: Stack;
/** An agent whose token carries tools:read and tools:write. */
let writer: RunningWorker;
/** An agent whose token carries tools:read only. */
let reader: RunningWorker;

/** An MCP Proxy app on the recording upstream, under its own namespace, with an app policy. */
function app(name: string, policy?: Record<string, unknown>, url = upstream.url) {
  return {
    name,
    type: "mcpProxy",
    upstream: { stream: { url } },
    authorization: {
      ...(policy ? { inbound: { opa: policy } } : {}),
      outbound: {
        type: "tokenExchange",
        tokenExchange: { idp: "auth", audience: GITHUB_API, defaults: { ttl: "30s" } },
      },
    },
  };
}

beforeAll(async () => {
  [upstream, opsUpstream, sink] = await Promise.all([
    startRecordingMcpServer(),
    startRecordingMcpServer({ resourceScheme: "ops" }),
    startAuditSink(),
  ]);
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
      // The stand-in of policies/app-groups: ops is for the sre group, and these agents' tokens carry no groups.
      app("ops", { name: "app-groups" }, opsUpstream.url),
    ],
  });
  [writer, reader] = await Promise.all([
    stack.token("agent-a").then((token) => stack.as(token)),
    stack.token("agent-b", undefined, "tools:read").then((token) => stack.as(token)),
  ]);
});
afterAll(async () => {
  await stack.dispose();
  await Promise.all([upstream.close(), opsUpstream.close(), sink.close()]);
});

let nextId = 1;
async function listTools(gateway: RunningWorker): Promise<string[]> {
  const sessionId = await openSession(gateway);
  const res = await postOnSession(gateway, sessionId, { jsonrpc: "2.0", id: ++nextId, method: "tools/list" });
  return ((await res.json()) as { result: { tools: { name: string }[] } }).result.tools.map((tool) => tool.name);
}

type ToolReply = { result: { isError?: boolean; content: { text: string }[] } };
async function call(
  gateway: RunningWorker,
  sessionId: string,
  name: string,
  args: Record<string, unknown>,
): Promise<ToolReply["result"]> {
  const res = await postOnSession(gateway, sessionId, {
    jsonrpc: "2.0",
    id: ++nextId,
    method: "tools/call",
    params: { name, arguments: args },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as ToolReply).result;
}

function upstreamCalls(tool: string): number {
  return upstream.requests.filter((r) => r.rpcMethod === "tools/call" && (r.params as { name: string }).name === tool)
    .length;
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
    expect(result).toEqual({
      isError: true,
      content: [{ type: "text", text: "this tool needs the tools:write scope" }],
    });
    expect(upstreamCalls("create_issue")).toBe(before);
    const event = await auditOf(sessionId, "github__create_issue");
    expect(event).toMatchObject({
      agent: "agent-b",
      user: "agent-b",
      app: "github",
      decision: "deny",
      outcome: "denied",
      policy: "scopes",
      reason: "token lacks scope tools:write",
    });
    expect(event).not.toHaveProperty("token_jti");
  });

  it("forwards a call the policy allows and audits which policy decided", async () => {
    const sessionId = await openSession(writer);
    const result = await call(writer, sessionId, "github__create_issue", { title: "allowed" });
    expect(result.isError).toBeUndefined();
    expect(result.content[0]?.text).toMatch(/created issue #\d+: allowed/);
    expect(await auditOf(sessionId, "github__create_issue")).toMatchObject({
      agent: "agent-a",
      decision: "allow",
      outcome: "success",
      policy: "scopes",
      token_jti: expect.any(String),
    });
  });

  it("asks the app's own policy after the global one, with the documented input", async () => {
    const sessionId = await openSession(writer);
    const result = await call(writer, sessionId, "probe__echo", { text: "hi" });
    expect(result.content[0]?.text).toBe("hi");
    // The echo fixture allows and gives the input's session.id as its reason.
    expect(await auditOf(sessionId, "probe__echo")).toMatchObject({
      decision: "allow",
      policy: "echo",
      reason: sessionId,
    });
  });

  it.each([
    ["buggy__echo", "trap", /policy "trap" failed: .*unreachable/],
    ["odd__echo", "shapes", /wrong shape: allowed is a string/],
    ["ghost__echo", "never-built", /no policy named "never-built" is in the worker bundle/],
  ])("fails closed on %s (policy %s)", async (tool, policy, reason) => {
    const sessionId = await openSession(writer);
    const before = upstreamCalls("echo");
    expect(await call(writer, sessionId, tool, { text: "x" })).toEqual({
      isError: true,
      content: [{ type: "text", text: DENIED }],
    });
    expect(upstreamCalls("echo")).toBe(before);
    expect(await auditOf(sessionId, tool)).toMatchObject({
      decision: "deny",
      outcome: "denied",
      policy,
      reason: expect.stringMatching(reason),
    });
  });

  it("decides concurrent calls of different agents in one isolate on their own inputs", async () => {
    const [readerSession, writerSession] = await Promise.all([openSession(reader), openSession(writer)]);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        i % 2
          ? call(reader, readerSession, "github__create_issue", { title: `r${i}` })
          : call(writer, writerSession, "github__create_issue", { title: `w${i}` }),
      ),
    );
    results.forEach((result, i) => expect(result.isError === true).toBe(i % 2 === 1));
  });
});

describe("prompts and resources", () => {
  type Reply = { result?: Record<string, unknown>; error?: { code: number; message: string } };
  async function rpc(sessionId: string, method: string, params?: Record<string, unknown>): Promise<Reply> {
    const res = await postOnSession(writer, sessionId, {
      jsonrpc: "2.0",
      id: ++nextId,
      method,
      ...(params ? { params } : {}),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as Reply;
  }
  const names = (reply: Reply, key: string) => (reply.result![key] as { name: string }[]).map((item) => item.name);
  const auditOfRequest = (sessionId: string, method: string) =>
    vi.waitFor(() => {
      const event = sink.events.find((e) => e.session_id === sessionId && e.method === method);
      if (!event) throw new Error(`no audit event yet for ${method}`);
      return event;
    });
  const reachedOps = (method: string) => opsUpstream.requests.filter((r) => r.rpcMethod === method).length;

  it("lists only the prompts, resources and templates of apps the policies allow", async () => {
    const sessionId = await openSession(writer);
    const prompts = names(await rpc(sessionId, "prompts/list"), "prompts");
    expect(prompts).toEqual(expect.arrayContaining(["github__greet", "probe__greet"]));
    expect(prompts.filter((name) => /^(buggy|odd|ghost|ops)__/.test(name))).toEqual([]);
    const resources = (await rpc(sessionId, "resources/list")).result!.resources as { uri: string; name: string }[];
    expect(resources.map((r) => r.name)).toContain("github__readme");
    expect(resources.filter((r) => r.uri.startsWith("ops://") || /^(buggy|odd|ghost|ops)__/.test(r.name))).toEqual([]);
    const templates = names(await rpc(sessionId, "resources/templates/list"), "resourceTemplates");
    expect(templates).toContain("github__item");
    expect(templates).not.toContain("ops__item");
  });

  it("denies prompts/get with the policy's message as JSON-RPC error -32003, sends nothing upstream, and audits it", async () => {
    const sessionId = await openSession(writer);
    const before = reachedOps("prompts/get");
    const reply = await rpc(sessionId, "prompts/get", { name: "ops__greet", arguments: { name: "Ada" } });
    expect(reply.error).toEqual({ code: -32003, message: "the ops app is not available to your groups" });
    expect(reachedOps("prompts/get")).toBe(before);
    const event = await auditOfRequest(sessionId, "prompts/get");
    expect(event).toMatchObject({
      agent: "agent-a",
      prompt: "ops__greet",
      app: "ops",
      decision: "deny",
      outcome: "denied",
      policy: "app-groups",
      reason: "user is in none of the app's groups",
    });
    expect(event).not.toHaveProperty("tool");
    expect(event).not.toHaveProperty("token_jti");
  });

  it("answers an allowed prompts/get and audits it with the exchanged token's jti", async () => {
    const sessionId = await openSession(writer);
    const reply = await rpc(sessionId, "prompts/get", { name: "github__greet", arguments: { name: "Ada" } });
    expect(JSON.stringify(reply.result)).toContain("Say hello to Ada.");
    expect(await auditOfRequest(sessionId, "prompts/get")).toMatchObject({
      prompt: "github__greet",
      app: "github",
      decision: "allow",
      outcome: "success",
      policy: "scopes",
      token_jti: expect.any(String),
    });
  });

  it("denies reading or subscribing to a resource of an app the caller may not use, however the URI was learnt", async () => {
    const sessionId = await openSession(writer);
    await rpc(sessionId, "resources/list");
    const before = reachedOps("resources/read") + reachedOps("resources/subscribe");
    const read = await rpc(sessionId, "resources/read", { uri: "ops://readme" });
    expect(read.error).toEqual({ code: -32003, message: "the ops app is not available to your groups" });
    expect(await auditOfRequest(sessionId, "resources/read")).toMatchObject({
      resource: "ops://readme",
      app: "ops",
      decision: "deny",
      outcome: "denied",
      policy: "app-groups",
    });
    expect((await rpc(sessionId, "resources/subscribe", { uri: "ops://readme" })).error?.code).toBe(-32003);
    expect(await auditOfRequest(sessionId, "resources/subscribe")).toMatchObject({
      resource: "ops://readme",
      decision: "deny",
      outcome: "denied",
    });
    expect(reachedOps("resources/read") + reachedOps("resources/subscribe")).toBe(before);
  });

  it("audits a prompt no app offers as unknown", async () => {
    const sessionId = await openSession(writer);
    expect((await rpc(sessionId, "prompts/get", { name: "nobody__greet" })).error?.code).toBe(-32602);
    expect(await auditOfRequest(sessionId, "prompts/get")).toMatchObject({
      prompt: "nobody__greet",
      decision: "deny",
      outcome: "unknown_prompt",
    });
  });
});
