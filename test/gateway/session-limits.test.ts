// A session's tool call budget (mcpProvider.limits.toolCallsPerSession), in workerd: calls
// beyond it are refused before any policy, exchange or upstream request, audited as
// rate_limited, and other sessions keep their own budgets.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startAuditSink, type AuditSinkServer } from "../helpers/audit-sink.js";
import { exchangingProxyApp, startStack, type Stack } from "../helpers/gateway-stack.js";
import { openSession, postOnSession } from "../helpers/mcp.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const API = "https://api.example.test";

let upstream: RecordingMcpServer;
let sink: AuditSinkServer;
let stack: Stack;
let agent: RunningWorker;

beforeAll(async () => {
  [upstream, sink] = await Promise.all([startRecordingMcpServer(), startAuditSink()]);
  stack = await startStack({
    exchangeAudiences: [API],
    audit: { sink: { url: sink.url, flushInterval: "20ms" } },
    limits: { toolCallsPerSession: { limit: 3, period: "1h" } },
    apps: [exchangingProxyApp("github", upstream.url, API)],
  });
  agent = stack.as(await stack.token());
});
afterAll(async () => {
  await stack.dispose();
  await Promise.all([upstream.close(), sink.close()]);
});

let nextId = 1;
async function echo(sessionId: string) {
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

describe("a session's tool call budget", () => {
  it("refuses the call beyond the budget with a tool error saying when to retry, sending nothing upstream, and audits it", async () => {
    const sessionId = await openSession(agent);
    for (let i = 0; i < 3; i++) expect((await echo(sessionId)).isError).toBeUndefined();
    const before = upstreamCalls();
    // One call comes back every 1200 s; the seconds the three calls took have refilled a little of it.
    const refused = await echo(sessionId);
    expect(refused).toEqual({
      isError: true,
      content: [
        { type: "text", text: expect.stringMatching(/^Too many tool calls in this session: try again in \d+ s\.$/) },
      ],
    });
    const seconds = Number(/in (\d+) s/.exec(refused.content[0]!.text)![1]);
    expect(seconds).toBeGreaterThan(1_170);
    expect(seconds).toBeLessThanOrEqual(1_200);
    expect(upstreamCalls()).toBe(before);
    const events = await vi.waitFor(() => {
      const mine = sink.events.filter((e) => e.session_id === sessionId);
      if (mine.length < 4) throw new Error("audit events still on their way");
      return mine;
    });
    expect(events.map((e) => e.outcome)).toEqual(["success", "success", "success", "rate_limited"]);
    expect(events[3]).toMatchObject({
      tool: "github__echo",
      app: "github",
      decision: "deny",
      reason: expect.stringContaining("toolCallsPerSession"),
    });
    expect(events[3]).not.toHaveProperty("token_jti");
  });

  it("keeps each session's budget its own", async () => {
    const [spent, fresh] = await Promise.all([openSession(agent), openSession(agent)]);
    for (let i = 0; i < 4; i++) await echo(spent);
    expect((await echo(fresh)).isError).toBeUndefined();
  });

  it("leaves other methods alone", async () => {
    const sessionId = await openSession(agent);
    for (let i = 0; i < 4; i++) await echo(sessionId);
    const res = await postOnSession(agent, sessionId, { jsonrpc: "2.0", id: ++nextId, method: "tools/list" });
    expect(((await res.json()) as { result: { tools: unknown[] } }).result.tools.length).toBeGreaterThan(0);
  });
});
