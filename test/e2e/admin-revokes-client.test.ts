// Incident response end to end (docs/auth/grants-and-admin.md): an operator revokes every token
// of a compromised machine agent through the auth tier's admin API, and the gateway, which
// introspects agents' tokens (RFC 7662, `tokenValidation.introspection`), refuses that agent on
// its very next call in the MCP session it already holds, though the session caches a per-tool
// token; another agent's session goes on.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../helpers/gateway-stack.js";
import { openSession, postOnSession } from "../helpers/mcp.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const API = "https://api.example.test";
const OPERATOR_TOKEN = randomBytes(32).toString("base64url");

let upstream: RecordingMcpServer;
let stack: Stack;

beforeAll(async () => {
  upstream = await startRecordingMcpServer();
  stack = await startStack({
    apps: [
      {
        name: "github",
        type: "mcpProxy",
        upstream: { stream: { url: upstream.url } },
        authorization: {
          outbound: {
            type: "tokenExchange",
            tokenExchange: { idp: "auth", audience: API, cache: true, defaults: { ttl: "30s" } },
          },
        },
      },
    ],
    exchangeAudiences: [API],
    tokenValidation: { introspection: { idp: "auth", interval: "0s" } },
    authProvider: {
      config: { admin: { operators: [{ name: "oncall", token: { env: "ADMIN_SECRET_ONCALL" } }] } },
      bindings: { ADMIN_SECRET_ONCALL: OPERATOR_TOKEN },
    },
  });
});
afterAll(async () => {
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
const upstreamCalls = () => upstream.requests.filter((r) => r.rpcMethod === "tools/call").length;

describe("an operator cuts off a compromised machine agent", () => {
  it("stops the agent mid-session at the gateway, and leaves other agents alone", async () => {
    const compromised = stack.as(await stack.token("agent-a"));
    const bystander = stack.as(await stack.token("agent-b"));
    const [session, otherSession] = await Promise.all([openSession(compromised), openSession(bystander)]);
    expect((await echo(compromised, session)).status).toBe(200);
    const before = upstreamCalls();

    const res = await stack.auth.fetch("/admin/clients/agent-a/tokens", {
      method: "DELETE",
      headers: { Authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    expect(res.status).toBe(200);

    const refused = await echo(compromised, session);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("WWW-Authenticate")).toMatch(/error="invalid_token"/);
    expect(upstreamCalls()).toBe(before);
    expect((await echo(bystander, otherSession)).status).toBe(200);
    expect(stack.auth.output()).toContain(
      '"operator":"oncall","action":"revoke_client","target":{"client_id":"agent-a"}',
    );
  });
});
