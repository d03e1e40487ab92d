// Cancellation passed upstream (docs/mcp-endpoint.md, "Cancellation"), on real workerd with real
// upstreams whose tools block until released. A 2026-07-28 agent cancels by closing the request's
// response stream (MCP 2026-07-28 basic/patterns/cancellation, basic/transports/streamable-http
// "Cancellation"); a 2025-11-25 agent by `notifications/cancelled` on its session (MCP 2025-11-25
// basic/utilities/cancellation). Either way the gateway stops the upstream call and tells the
// upstream in its own era: a 2026-07-28 upstream's request stream is closed, a 2025-era upstream
// hears `notifications/cancelled` naming its request. The audit event says `cancelled`.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startAuditSink, type AuditSinkServer } from "../helpers/audit-sink.js";
import { startStack, type Stack } from "../helpers/gateway-stack.js";
import { openSession, postOnSession } from "../helpers/mcp.js";
import { startModernMcpServer, type ModernMcpServer } from "../helpers/modern-upstream-mcp.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";

const MODERN = "2026-07-28";
/** Far longer than any test waits: a call that ends did so because it was cancelled. */
const APP_TIMEOUT = "60s";

let modernUpstream: ModernMcpServer;
let legacyUpstream: RecordingMcpServer;
let sink: AuditSinkServer;
let stack: Stack;
let token: string;

beforeAll(async () => {
  [modernUpstream, legacyUpstream, sink] = await Promise.all([
    startModernMcpServer(),
    startRecordingMcpServer(),
    startAuditSink(),
  ]);
  stack = await startStack({
    // A response stream's comment lines come this often: a closed one is noticed by the next.
    stream: { keepAlive: "200ms" },
    audit: { sink: { url: sink.url, flushInterval: "20ms" } },
    apps: [
      { name: "modern", type: "mcpProxy", upstream: { stream: { url: modernUpstream.url } }, timeout: APP_TIMEOUT },
      { name: "legacy", type: "mcpProxy", upstream: { stream: { url: legacyUpstream.url } }, timeout: APP_TIMEOUT },
    ],
  });
  token = await stack.token("agent-a");
}, 120_000);
afterAll(async () => {
  await stack?.dispose();
  await Promise.all([modernUpstream?.close(), legacyUpstream?.close(), sink?.close()]);
});

const waitFor = <T>(check: () => T) => vi.waitFor(check, { timeout: 15_000, interval: 50 });

/** The audit event of the one call of `tool`, once delivered. */
const auditOf = (tool: string) =>
  waitFor(() => {
    const events = sink.events.filter((event) => event.tool === tool);
    expect(events).toHaveLength(1);
    return events[0]!;
  });

/**
 * A 2026-07-28 tools/call asking for progress, whose response stream the agent reads until its
 * first event (the upstream's progress: the call is under way upstream) and then closes.
 */
async function callThenCloseStream(name: string, args: Record<string, unknown>): Promise<unknown> {
  const agent = new AbortController();
  const res = await stack.as(token).fetch("/mcp", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      "MCP-Protocol-Version": MODERN,
      "Mcp-Method": "tools/call",
      "Mcp-Name": name,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: `call-${name}`,
      method: "tools/call",
      params: {
        name,
        arguments: args,
        _meta: {
          progressToken: name,
          "io.modelcontextprotocol/protocolVersion": MODERN,
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    }),
    signal: agent.signal,
  });
  expect(res.headers.get("Content-Type")).toBe("text/event-stream");
  const reader = res.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  agent.abort();
  await reader.cancel().catch(() => undefined);
  return JSON.parse(first.split("data: ")[1]!.split("\n")[0]!);
}

describe("a 2026-07-28 agent closes a call's response stream", () => {
  it("on a 2026-07-28 upstream: the upstream's request stream is closed, so its tool stops; the audit event says cancelled", async () => {
    const first = await callThenCloseStream("modern__hang", {});
    expect(first).toMatchObject({ method: "notifications/progress", params: { progressToken: "modern__hang" } });
    await waitFor(() => expect(modernUpstream.hangsEnded).toHaveLength(1));
    expect(await auditOf("modern__hang")).toMatchObject({ decision: "allow", outcome: "cancelled", app: "modern" });
    // Closing the stream is that era's cancellation: no notification is sent.
    expect(modernUpstream.requests.map((r) => r.rpcMethod)).not.toContain("notifications/cancelled");
  });

  it("on a 2025-era upstream: the upstream hears notifications/cancelled naming its request; the audit event says cancelled", async () => {
    const first = await callThenCloseStream("legacy__slow", { ms: 120_000 });
    expect(first).toMatchObject({ method: "notifications/progress", params: { progressToken: "legacy__slow" } });
    const cancelled = await waitFor(() => {
      const notice = legacyUpstream.requests.find((r) => r.rpcMethod === "notifications/cancelled");
      expect(notice).toBeDefined();
      return notice!;
    });
    expect(cancelled.params).toEqual({ requestId: expect.any(String), reason: "the agent cancelled the request" });
    expect(await auditOf("legacy__slow")).toMatchObject({ decision: "allow", outcome: "cancelled", app: "legacy" });
  });
});

describe("a 2025-11-25 agent sends notifications/cancelled for its call in flight", () => {
  it("the upstream hears notifications/cancelled for its own request, the agent gets no reply for it, and the audit event says cancelled", async () => {
    const gateway = stack.as(token);
    const sessionId = await openSession(gateway);
    const before = legacyUpstream.requests.length;
    const call = postOnSession(gateway, sessionId, {
      jsonrpc: "2.0",
      id: 41,
      method: "tools/call",
      params: { name: "legacy__add", arguments: { a: 1, b: 2 } },
    });
    expect((await call).status).toBe(200);
    const slow = postOnSession(gateway, sessionId, {
      jsonrpc: "2.0",
      id: 42,
      method: "tools/call",
      params: { name: "legacy__slow", arguments: { ms: 120_000 } },
    });
    await waitFor(() =>
      expect(
        legacyUpstream.requests
          .slice(before)
          .some((r) => r.rpcMethod === "tools/call" && (r.params as { name?: string }).name === "slow"),
      ).toBe(true),
    );
    // What names no request in flight is ignored (basic/utilities/cancellation): a finished one, a made-up one, garbage.
    for (const requestId of [41, 999, "42", { id: 42 }]) {
      const ignored = await postOnSession(gateway, sessionId, {
        jsonrpc: "2.0",
        method: "notifications/cancelled",
        params: { requestId },
      });
      expect(ignored.status).toBe(202);
    }
    expect(legacyUpstream.requests.slice(before).map((r) => r.rpcMethod)).not.toContain("notifications/cancelled");

    const cancel = await postOnSession(gateway, sessionId, {
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: 42, reason: "the user moved on" },
    });
    expect(cancel.status).toBe(202);
    // basic/utilities/cancellation: the receiver SHOULD NOT send a response for the cancelled request.
    const answered = await slow;
    expect(answered.status).toBe(202);
    expect(await answered.text()).toBe("");
    const notice = await waitFor(() => {
      const found = legacyUpstream.requests.slice(before).find((r) => r.rpcMethod === "notifications/cancelled");
      expect(found).toBeDefined();
      return found!;
    });
    expect(notice).toMatchObject({
      sessionId: expect.any(String),
      params: { reason: "the agent cancelled the request" },
    });
    const events = await waitFor(() => {
      const found = sink.events.filter((event) => event.session_id === sessionId);
      expect(found).toHaveLength(2);
      return found;
    });
    expect(events.map((e) => [e.tool, e.outcome])).toEqual([
      ["legacy__add", "success"],
      ["legacy__slow", "cancelled"],
    ]);
  });
});
