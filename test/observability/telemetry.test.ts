// Traces and metrics, end to end: both tiers in workerd export OTLP/HTTP JSON to a receiver
// started here; an agent's tool call carries its own traceparent, and the one trace it starts
// must show the gateway, the auth tier's token exchange and its Redis work, and reach the
// upstream MCP server. A scripted burst of calls must arrive as the documented metrics.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startAuditSink, type AuditSinkServer } from "../helpers/audit-sink.js";
import { startStack, type Stack } from "../helpers/gateway-stack.js";
import { openSession, postOnSession } from "../helpers/mcp.js";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../helpers/otlp-receiver.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const GITHUB_API = "https://api.github.test";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
/** OTLP span kinds. */
const SERVER = 2;
const CLIENT = 3;

let upstream: RecordingMcpServer;
let otlp: OtlpReceiver;
let audit: AuditSinkServer;
let stack: Stack;
let gateway: RunningWorker;

beforeAll(async () => {
  [upstream, otlp, audit] = await Promise.all([startRecordingMcpServer(), startOtlpReceiver(), startAuditSink()]);
  stack = await startStack({
    exchangeAudiences: [GITHUB_API],
    // Metrics with every request, so the test need not wait for an interval.
    observability: { otlp: { endpoint: otlp.url, metricsInterval: "0s" } },
    audit: { sink: { url: audit.url, flushInterval: "20ms" } },
    apps: [
      {
        name: "github",
        type: "mcpProxy",
        upstream: { stream: { url: upstream.url } },
        authorization: {
          outbound: {
            type: "tokenExchange",
            tokenExchange: { idp: "auth", audience: GITHUB_API, defaults: { ttl: "30s" } },
          },
        },
      },
    ],
  });
  gateway = stack.as(await stack.token("agent-a"));
});
afterAll(async () => {
  await stack.dispose();
  await Promise.all([upstream.close(), otlp.close(), audit.close()]);
});

let nextId = 1;
async function callTool(
  sessionId: string,
  name: string,
  args: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const res = await postOnSession(
    gateway,
    sessionId,
    { jsonrpc: "2.0", id: ++nextId, method: "tools/call", params: { name, arguments: args } },
    headers,
  );
  expect(res.status).toBe(200);
  return (await res.json()) as { result: { isError?: boolean } };
}

describe("tracing", () => {
  it("shows one tool call as one trace across gateway, auth tier and upstream, under the agent's traceparent", async () => {
    const traceId = randomBytes(16).toString("hex");
    const agentSpanId = randomBytes(8).toString("hex");
    const sessionId = await openSession(gateway);
    const reply = await callTool(
      sessionId,
      "github__echo",
      { text: "traced" },
      { traceparent: `00-${traceId}-${agentSpanId}-01` },
    );
    expect(reply.result.isError).toBeUndefined();

    const named = (service: string, name: string) =>
      otlp.spans.find((s) => s.traceId === traceId && s.service === service && s.name === name);
    const span = (service: string, name: string): ReceivedSpan => {
      const found = named(service, name);
      if (!found)
        throw new Error(
          `no ${service} span ${name} yet; have ${otlp.spans
            .filter((s) => s.traceId === traceId)
            .map((s) => `${s.service}:${s.name}`)
            .join(", ")}`,
        );
      return found;
    };
    const front = await vi.waitFor(() => span("ai-identity-gateway", "POST /mcp"));
    const call = await vi.waitFor(() => span("ai-identity-gateway", "tools/call github__echo"));
    const policy = await vi.waitFor(() => span("ai-identity-gateway", "policy.evaluate"));
    const exchange = await vi.waitFor(() => span("ai-identity-gateway", "token_exchange"));
    const forward = await vi.waitFor(() => span("ai-identity-gateway", "upstream github"));
    const tokenEndpoint = await vi.waitFor(() => span("ai-identity-auth", "POST /token"));
    const grant = await vi.waitFor(() => span("ai-identity-auth", "oauth.token token_exchange"));
    const redis = await vi.waitFor(() => {
      const found = otlp.spans.filter(
        (s) => s.traceId === traceId && s.service === "ai-identity-auth" && s.name.startsWith("redis "),
      );
      if (!found.length) throw new Error("no redis spans yet");
      return found;
    });

    // The chain of parents: agent → gateway front → session's MCP request → exchange → auth tier.
    expect(front).toMatchObject({
      kind: SERVER,
      parentSpanId: agentSpanId,
      attributes: { "http.request.method": "POST", "http.route": "/mcp", "http.response.status_code": 200 },
    });
    expect(call).toMatchObject({
      kind: SERVER,
      parentSpanId: front.spanId,
      attributes: { "mcp.method.name": "tools/call", "mcp.session.id": sessionId, "gen_ai.tool.name": "github__echo" },
    });
    expect(policy).toMatchObject({
      parentSpanId: call.spanId,
      attributes: { "gateway.decision": "allow", "gateway.app": "github" },
    });
    expect(exchange).toMatchObject({
      kind: CLIENT,
      parentSpanId: call.spanId,
      attributes: { "gateway.app": "github", "oauth.audience": GITHUB_API },
    });
    expect(tokenEndpoint).toMatchObject({
      kind: SERVER,
      parentSpanId: exchange.spanId,
      attributes: { "http.route": "/token", "http.response.status_code": 200 },
    });
    expect(grant).toMatchObject({
      parentSpanId: tokenEndpoint.spanId,
      attributes: { "oauth.grant_type": TOKEN_EXCHANGE, "oauth.client_id": "gateway" },
    });
    expect(redis.every((s) => s.kind === CLIENT && s.attributes["db.system.name"] === "redis")).toBe(true);
    expect(forward).toMatchObject({ kind: CLIENT, parentSpanId: call.spanId, attributes: { "gateway.app": "github" } });

    // The upstream received the trace, as a child of the gateway's upstream span.
    const atUpstream = upstream.requests.filter((r) => r.rpcMethod === "tools/call").at(-1);
    expect(atUpstream?.traceparent).toBe(`00-${traceId}-${forward.spanId}-01`);
    // And the audit event names the trace.
    await vi.waitFor(() =>
      expect(audit.events.find((e) => e.session_id === sessionId)).toMatchObject({ trace_id: traceId }),
    );
  });

  it("continues the agent's trace from MCP _meta.traceparent when the HTTP request carries none", async () => {
    const traceId = randomBytes(16).toString("hex");
    const sessionId = await openSession(gateway);
    const res = await postOnSession(gateway, sessionId, {
      jsonrpc: "2.0",
      id: ++nextId,
      method: "tools/call",
      params: {
        name: "github__echo",
        arguments: { text: "meta" },
        _meta: { traceparent: `00-${traceId}-${"1".repeat(16)}-01` },
      },
    });
    expect(res.status).toBe(200);
    const call = await vi.waitFor(() => {
      const found = otlp.spans.find((s) => s.traceId === traceId && s.name === "tools/call github__echo");
      if (!found) throw new Error("no span yet");
      return found;
    });
    expect(call.parentSpanId).toBe("1".repeat(16));
  });
});

describe("metrics", () => {
  it("count a scripted burst of tool calls by app, tool, decision and outcome", async () => {
    const sessions = await Promise.all([openSession(gateway), openSession(gateway)]);
    await Promise.all(Array.from({ length: 10 }, (_, i) => callTool(sessions[i % 2]!, "github__add", { a: i, b: 1 })));

    await vi.waitFor(() => {
      expect(
        otlp.total("tool.invocations", {
          "gateway.app": "github",
          "gen_ai.tool.name": "github__add",
          "gateway.decision": "allow",
          "gateway.outcome": "success",
        }),
      ).toBe(10);
    });
    await vi.waitFor(() => {
      // Histograms report their count: one per call at least.
      expect(
        otlp.total("upstream.duration", { "gateway.app": "github", "gateway.outcome": "success" }),
      ).toBeGreaterThanOrEqual(10);
      expect(otlp.total("policy.duration", { "gateway.decision": "allow" })).toBeGreaterThanOrEqual(10);
      expect(otlp.total("mcp.server.operation.duration", { "mcp.method.name": "tools/call" })).toBeGreaterThanOrEqual(
        10,
      );
      expect(otlp.total("token_exchange.duration", { "gateway.outcome": "success" })).toBeGreaterThanOrEqual(2);
      expect(otlp.total("mcp.sessions.created")).toBeGreaterThanOrEqual(2);
      expect(otlp.total("mcp.sessions.active")).toBeGreaterThanOrEqual(2);
      expect(otlp.total("http.server.request.duration", { "http.route": "/mcp" })).toBeGreaterThanOrEqual(12);
      expect(otlp.total("auth.tokens.issued", { "oauth.grant_type": TOKEN_EXCHANGE })).toBeGreaterThanOrEqual(2);
      expect(otlp.total("auth.tokens.issued", { "oauth.grant_type": "client_credentials" })).toBeGreaterThanOrEqual(1);
      expect(otlp.total("db.client.operation.duration", { "db.system.name": "redis" })).toBeGreaterThan(0);
    });
    expect(otlp.total("redis.errors")).toBe(0);
  });
});
