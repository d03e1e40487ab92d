// One agent token against the per-principal limits (mcpProvider.limits.sessionsPerPrincipal,
// toolCallsPerPrincipal): opening session after session neither renews a spent tool call budget
// nor piles up sessions beyond the limit. A principal is issuer + user + agent
// (src/gateway/auth/principal.ts); a session's slot is freed when it ends (DELETE, idle timeout).
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startAuditSink, type AuditSinkServer } from "../helpers/audit-sink.js";
import { exchangingProxyApp, startStack, type Stack } from "../helpers/gateway-stack.js";
import { deleteSession, initializeRequest, openSession, postMcp, postOnSession } from "../helpers/mcp.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const API = "https://api.example.test";

const github = (url: string) => exchangingProxyApp("github", url, API);

let upstream: RecordingMcpServer;
let sink: AuditSinkServer;
let stack: Stack;
let agentA: RunningWorker;
let agentB: RunningWorker;

beforeAll(async () => {
  [upstream, sink] = await Promise.all([startRecordingMcpServer(), startAuditSink()]);
  stack = await startStack({
    exchangeAudiences: [API],
    audit: { sink: { url: sink.url, flushInterval: "20ms" } },
    limits: { sessionsPerPrincipal: 3, toolCallsPerPrincipal: { limit: 3, period: "1h" } },
    apps: [github(upstream.url)],
  });
  [agentA, agentB] = await Promise.all([
    stack.token("agent-a").then((t) => stack.as(t)),
    stack.token("agent-b").then((t) => stack.as(t)),
  ]);
});
afterAll(async () => {
  await stack.dispose();
  await Promise.all([upstream.close(), sink.close()]);
});

let nextId = 1;
async function echo(agent: RunningWorker, sessionId: string) {
  const res = await postOnSession(agent, sessionId, {
    jsonrpc: "2.0",
    id: ++nextId,
    method: "tools/call",
    params: { name: "github__echo", arguments: { text: "hi" } },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { result: { isError?: boolean; content: { text: string }[] } }).result;
}
const upstreamCalls = () => upstream.requests.filter((r) => r.rpcMethod === "tools/call").length;

describe("one token opening session after session", () => {
  it("cannot renew a tool call budget spent on session A by opening session B", async () => {
    const a = await openSession(agentA);
    for (let i = 0; i < 3; i++) expect((await echo(agentA, a)).isError).toBeUndefined();
    const b = await openSession(agentA);
    const before = upstreamCalls();
    // 1200 s: one call of 3 per hour, less the moments the test itself took.
    expect(await echo(agentA, b)).toEqual({
      isError: true,
      content: [
        {
          type: "text",
          text: expect.stringMatching(/^Too many tool calls by this agent: try again in 1(1\d\d|200) s\.$/),
        },
      ],
    });
    expect(upstreamCalls()).toBe(before);
    const refused = await vi.waitFor(() => {
      const event = sink.events.find((e) => e.session_id === b);
      if (!event) throw new Error("audit event still on its way");
      return event;
    });
    expect(refused).toMatchObject({
      tool: "github__echo",
      decision: "deny",
      outcome: "rate_limited",
      reason: expect.stringContaining("toolCallsPerPrincipal"),
    });
    // Another principal's budget is its own.
    const other = await openSession(agentB);
    expect((await echo(agentB, other)).isError).toBeUndefined();
    for (const [agent, id] of [
      [agentA, a],
      [agentA, b],
      [agentB, other],
    ] as const)
      expect((await deleteSession(agent, id)).status).toBe(204);
  });

  it("is refused a session beyond sessionsPerPrincipal with 429, Retry-After and a JSON-RPC error, while other principals are not", async () => {
    const open = [await openSession(agentB), await openSession(agentB), await openSession(agentB)];
    const res = await postMcp(agentB, initializeRequest());
    expect(res.status).toBe(429);
    expect(res.headers.get("Mcp-Session-Id")).toBeNull();
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
    const body = (await res.json()) as { jsonrpc: string; id: unknown; error: { code: number; message: string } };
    expect(body).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } });
    expect(body.error.message).toMatch(/sessions/);
    const another = await openSession(agentA);
    for (const id of open) await deleteSession(agentB, id);
    await deleteSession(agentA, another);
  });

  it("gets its slot back when it ends a session (DELETE)", async () => {
    const open = [await openSession(agentB), await openSession(agentB), await openSession(agentB)];
    expect((await postMcp(agentB, initializeRequest())).status).toBe(429);
    expect((await deleteSession(agentB, open[0]!)).status).toBe(204);
    const replacement = await openSession(agentB);
    for (const id of [...open.slice(1), replacement]) expect((await deleteSession(agentB, id)).status).toBe(204);
  });

  it("gets no more than sessionsPerPrincipal sessions from many initialize requests sent at once, and every slot back when they end", async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => postMcp(agentA, initializeRequest())));
    const opened = answers.filter((r) => r.status === 200).map((r) => r.headers.get("Mcp-Session-Id")!);
    expect(opened).toHaveLength(3);
    expect(answers.filter((r) => r.status === 429)).toHaveLength(5);
    await Promise.all(answers.map((r) => r.body?.cancel()));
    for (const id of opened) expect((await deleteSession(agentA, id)).status).toBe(204);
    const again = [await openSession(agentA), await openSession(agentA), await openSession(agentA)];
    expect((await postMcp(agentA, initializeRequest())).status).toBe(429);
    for (const id of again) expect((await deleteSession(agentA, id)).status).toBe(204);
  });
});

describe("a slot nobody gives back", () => {
  let idle: Stack;
  beforeAll(async () => {
    idle = await startStack({ limits: { sessionsPerPrincipal: 1 }, stream: { session: { timeout: "1s" } } });
  });
  afterAll(() => idle.dispose());

  it("is freed when its session ends by idle timeout", async () => {
    const agent = idle.as(await idle.token("agent-a"));
    await openSession(agent);
    expect((await postMcp(agent, initializeRequest())).status).toBe(429);
    await vi.waitFor(async () => expect((await postMcp(agent, initializeRequest())).status).toBe(200), {
      timeout: 15_000,
      interval: 250,
    });
  });

  it("is held by a session that vanished without ending only until its lease runs out", async () => {
    const token = await idle.token("agent-b");
    const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as {
      iss: string;
      sub: string;
      client_id: string;
    };
    // A slot taken by a session whose object never gave it back (a crash, lost storage): only its lease ends it.
    const namespace = await idle.gateway.mf.getDurableObjectNamespace("PRINCIPAL_LIMITS");
    const limits = namespace.get(
      namespace.idFromName(JSON.stringify([claims.iss, claims.sub, claims.client_id])),
    ) as unknown as {
      acquireSession(id: string, limit: number, leaseMs: number): Promise<{ granted: boolean }>;
    };
    expect(await limits.acquireSession("vanished-session", 1, 1_500)).toEqual({ granted: true });
    const agent = idle.as(token);
    expect((await postMcp(agent, initializeRequest())).status).toBe(429);
    await vi.waitFor(async () => expect((await postMcp(agent, initializeRequest())).status).toBe(200), {
      timeout: 15_000,
      interval: 250,
    });
  });
});

describe("when the principal's object cannot be asked", () => {
  let cut: Stack;
  beforeAll(async () => {
    cut = await startStack({ limits: { sessionsPerPrincipal: 3 }, withoutPrincipalLimits: true });
  });
  afterAll(() => cut.dispose());

  it("refuses initialize with 503 and Retry-After, and creates no session (fail closed)", async () => {
    const agent = cut.as(await cut.token("agent-a"));
    const res = await postMcp(agent, initializeRequest());
    expect(res.status).toBe(503);
    expect(res.headers.get("Mcp-Session-Id")).toBeNull();
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } });
  });
});
