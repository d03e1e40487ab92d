// The gateway ends the MCP sessions of a revoked grant (docs/auth/grants-and-admin.md, "At the
// gateway"): a session made with a token of a grant belongs to that grant; once the person
// revokes it, the gateway, which introspects agents' tokens, refuses the grant's token with 401
// and ends the session it was presented on: the upstream session closes, and the same person's
// agent, authorized again, cannot resume it (404) but may open a new one. Another grant of the
// same person and agent never shares a session, while a refreshed token of the same grant does;
// a revoked token presented on someone else's session ends nothing; and a machine agent's
// session (no grant) ends the same way when its token is revoked. Real workerd for both tiers,
// real Redis, a real SDK upstream recording every request.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ALICE } from "../helpers/auth-config.js";
import { exchangingProxyApp, startStack, type Stack } from "../helpers/gateway-stack.js";
import { authorizeAndRedeem, CookieJar, hiddenField, postForm, step } from "../helpers/login-flow.js";
import { openSession, postOnSession } from "../helpers/mcp.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const API = "https://api.example.test";
const REDIRECT = "http://127.0.0.1:9/callback";

let upstream: RecordingMcpServer;
let stack: Stack;
let agentId: string;

beforeAll(async () => {
  upstream = await startRecordingMcpServer();
  stack = await startStack({
    apps: [exchangingProxyApp("github", upstream.url, API)],
    exchangeAudiences: [API],
    tokenValidation: { introspection: { idp: "auth", interval: "0s" } },
    authProvider: { config: { registration: { defaultScopes: ["tools:read"] } } },
  });
  // The person's agent: a public client that registered itself (RFC 7591) and gets refresh tokens.
  const res = await stack.auth.fetch("/register", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      client_name: "Desk Agent",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      token_endpoint_auth_method: "none",
    }),
  });
  expect(res.status).toBe(201);
  agentId = ((await res.json()) as { client_id: string }).client_id;
});
afterAll(async () => {
  await stack?.dispose();
  await upstream?.close();
});

/** ALICE authorizes the agent in `jar` (signing in when needed); the agent redeems the code. */
async function grant(jar = new CookieJar()) {
  const { tokens } = await authorizeAndRedeem(
    stack.auth,
    { clientId: agentId, redirectUri: REDIRECT, scope: "openid tools:read" },
    ALICE,
    jar,
  );
  return { jar, access: tokens.access_token, refresh: tokens.refresh_token };
}

async function refreshed(refreshToken: string): Promise<string> {
  const res = await stack.auth.fetch(
    "/token",
    postForm({ grant_type: "refresh_token", client_id: agentId, refresh_token: refreshToken }),
  );
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** Revokes the newest grant on ALICE's Connected agents page, in the browser `jar`. */
async function revokeOnPage(jar: CookieJar): Promise<void> {
  const page = await step(stack.auth, jar, "/account/agents");
  const id = /name="grant" value="([^"]*)"/.exec(page.body)![1]!;
  const done = await step(
    stack.auth,
    jar,
    "/account/agents/revoke",
    postForm({ grant: id, csrf: hiddenField(page.body, "csrf") }, { Origin: stack.auth.url }),
  );
  expect(done.res.status).toBe(303);
}

let nextId = 1;
function echo(gateway: RunningWorker, sessionId: string): Promise<Response> {
  return postOnSession(gateway, sessionId, {
    jsonrpc: "2.0",
    id: ++nextId,
    method: "tools/call",
    params: { name: "github__echo", arguments: { text: "hi" } },
  });
}

/** The upstream session the gateway opened for `before`'s calls: the one that carried its last tools/call. */
const lastUpstreamSession = () => upstream.requests.filter((r) => r.rpcMethod === "tools/call").at(-1)!.sessionId!;

describe("a revoked grant's MCP session", () => {
  it("ends: the token gets 401, the upstream session closes, and the agent authorized again gets 404 on it", async () => {
    const first = await grant();
    const sessionId = await openSession(stack.as(first.access));
    expect((await echo(stack.as(first.access), sessionId)).status).toBe(200);
    const upstreamSession = lastUpstreamSession();

    await revokeOnPage(first.jar);
    const refused = await echo(stack.as(first.access), sessionId);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("WWW-Authenticate")).toMatch(/error="invalid_token"/);

    // Ended in the background, after the 401: its upstream session is closed, and the end logged.
    await vi.waitFor(
      () =>
        expect(upstream.requests.some((r) => r.httpMethod === "DELETE" && r.sessionId === upstreamSession)).toBe(true),
      { timeout: 10_000, interval: 50 },
    );
    expect(stack.gateway.output()).toMatch(/"event":"mcp\.session\.revoked"/);
    expect(stack.gateway.output()).toMatch(/"event":"mcp\.session\.ended".*"reason":"token revoked"/);

    // The same person's agent, authorized again: a valid token, the same principal, no way back in.
    const again = await grant(first.jar);
    const resumed = await echo(stack.as(again.access), sessionId);
    expect(resumed.status).toBe(404);
    const fresh = await openSession(stack.as(again.access));
    expect((await echo(stack.as(again.access), fresh)).status).toBe(200);
  });
});

describe("a session belongs to its grant", () => {
  it("is refused to another grant of the same person and agent (404), and kept for a refreshed token of its own", async () => {
    const own = await grant();
    const sessionId = await openSession(stack.as(own.access));
    const other = await grant(own.jar);
    expect((await echo(stack.as(other.access), sessionId)).status).toBe(404);
    const next = await refreshed(own.refresh);
    expect((await echo(stack.as(next), sessionId)).status).toBe(200);
  });

  it("is not ended by a revoked token of another grant presented on it", async () => {
    const victim = await grant();
    const sessionId = await openSession(stack.as(victim.access));
    const attacker = await grant();
    await revokeOnPage(attacker.jar);
    expect((await echo(stack.as(attacker.access), sessionId)).status).toBe(401);
    expect((await echo(stack.as(victim.access), sessionId)).status).toBe(200);
  });
});

describe("a machine agent's session (no grant)", () => {
  it("ends when its token is revoked: the agent's next token cannot resume it", async () => {
    const token = await stack.token("agent-b");
    const sessionId = await openSession(stack.as(token));
    expect((await echo(stack.as(token), sessionId)).status).toBe(200);
    await stack.revoke(token, "agent-b");
    expect((await echo(stack.as(token), sessionId)).status).toBe(401);
    const next = await stack.token("agent-b");
    await vi.waitFor(async () => expect((await echo(stack.as(next), sessionId)).status).toBe(404), {
      timeout: 10_000,
      interval: 50,
    });
  });
});
