// A revoked agent token is refused at the gateway (RFC 7009 at the auth tier, RFC 7662 from the
// gateway), not merely at its next token exchange: with `tokenValidation.introspection`, a session
// holding a cached per-tool token cannot reach its upstream once the agent's own token is revoked.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_CLIENT, gatewayConfig, startStack, withToken, type Stack } from "../helpers/gateway-stack.js";
import { openSession, postOnSession } from "../helpers/mcp.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";
import { startGatewayWorker, type RunningWorker } from "../helpers/workers.js";

const API = "https://api.example.test";

let upstream: RecordingMcpServer;
let stack: Stack;
/** Gateways over the same auth tier, configured otherwise (interval, endpoint). */
const others: RunningWorker[] = [];

const app = () => ({
  name: "github",
  type: "mcpProxy",
  upstream: { stream: { url: upstream.url } },
  // A long-lived cached tool token: without introspection it would carry calls for 30 s after revocation.
  authorization: {
    outbound: {
      type: "tokenExchange",
      tokenExchange: { idp: "auth", audience: API, cache: true, defaults: { ttl: "30s" } },
    },
  },
});

async function gatewayWith(introspection: Record<string, unknown>): Promise<RunningWorker> {
  const gateway = await startGatewayWorker({
    auth: stack.auth,
    config: gatewayConfig(stack.auth.url, { apps: [app()], tokenValidation: { introspection } }),
    bindings: GATEWAY_CLIENT.bindings,
  });
  others.push(gateway);
  return gateway;
}

beforeAll(async () => {
  upstream = await startRecordingMcpServer();
  stack = await startStack({
    apps: [app()],
    exchangeAudiences: [API],
    tokenValidation: { introspection: { idp: "auth", interval: "0s" } },
  });
});
afterAll(async () => {
  await Promise.all(others.map((gateway) => gateway.dispose()));
  await stack.dispose();
  await upstream.close();
});

let nextId = 1;
function echo(gateway: RunningWorker, sessionId: string): Promise<Response> {
  return postOnSession(gateway, sessionId, {
    jsonrpc: "2.0",
    id: ++nextId,
    method: "tools/call",
    params: { name: "github__echo", arguments: { text: "hi" } },
  });
}
const upstreamEchoes = () => upstream.requests.filter((r) => r.rpcMethod === "tools/call").length;

describe("token introspection at the gateway", () => {
  it("refuses a revoked token on the very next request, though its session holds a cached tool token", async () => {
    const token = await stack.token("agent-a");
    const agent = stack.as(token);
    const sessionId = await openSession(agent);
    expect((await echo(agent, sessionId)).status).toBe(200);
    const before = upstreamEchoes();

    await stack.revoke(token);
    const res = await echo(agent, sessionId);
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toMatch(
      /^Bearer resource_metadata="[^"]+", error="invalid_token", error_description="the token is no longer active \(revoked\)"$/,
    );
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32000 } });
    expect((await echo(agent, sessionId)).status).toBe(401);
    expect(upstreamEchoes()).toBe(before);
  });

  it("leaves other tokens of the same agent alone", async () => {
    const [revoked, kept] = await Promise.all([stack.token("agent-a"), stack.token("agent-a")]);
    await stack.revoke(revoked);
    const agent = stack.as(kept);
    const sessionId = await openSession(agent);
    expect((await echo(agent, sessionId)).status).toBe(200);
  });

  it("trusts an active answer for `interval`: the bound on how long a revoked token still works", async () => {
    const gateway = await gatewayWith({ idp: "auth", interval: "1h" });
    const token = await stack.token("agent-b");
    const agent = withToken(gateway, token);
    const sessionId = await openSession(agent);
    await stack.revoke(token, "agent-b");
    expect((await echo(agent, sessionId)).status).toBe(200);
  });

  it("fails closed with 503 and Retry-After when the introspection endpoint cannot answer", async () => {
    const gateway = await gatewayWith({ idp: "auth", endpoint: `${stack.auth.url}/no-such-endpoint` });
    const res = await withToken(gateway, await stack.token("agent-a")).fetch("/mcp", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("5");
    const body = await res.text();
    expect(JSON.parse(body)).toMatchObject({
      jsonrpc: "2.0",
      error: { code: -32603, message: expect.stringContaining("cannot confirm the token is still active") },
    });
    expect(body).not.toMatch(/at \w+ \(|\.ts:\d+/);
  });
});
