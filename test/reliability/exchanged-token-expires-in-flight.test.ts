// Fault: exchanged tokens that die between the gateway and the upstream. Upstreams here enforce
// `exp` strictly (no leeway) behind a slow hop, so a cached token reused too close to its real
// expiry (a whole-second `iat` plus the TTL, up to a second before "receive time + expires_in")
// arrives dead. The gateway must reuse a token only while it will outlive the call, and answer
// an upstream's 401 (RFC 6750 §3.1 invalid_token) with one new exchange and one retry, never more.
// Real workerd, the real auth tier for RFC 8693, a real SDK MCP server and a real REST API.
import type { IncomingMessage, ServerResponse } from "node:http";
import { decodeJwt, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityProviderSchema } from "../../src/gateway/apps-schema.js";
import { exchangeToken, type BindingFetcher } from "../../src/gateway/outbound/token-exchange-client.js";
import { startStack, type Stack } from "../helpers/gateway-stack.js";
import { openSession, postOnSession } from "../helpers/mcp.js";
import {
  startPlainHttpServer,
  startRecordingMcpServer,
  type PlainHttpServer,
  type RecordingMcpServer,
} from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const STRICT_API = "https://strict.test";
const SHORT_API = "https://short.test";
const REFUSING_API = "https://refusing.test";
const REST_API = "https://rest.test";
/** How long a call takes to reach the upstream's token check (a slow hop: proxy, WAF, queue). */
const HOP_MS = 300;

const bearer = (req: IncomingMessage) => (req.headers.authorization ?? "").replace(/^Bearer /, "");

function refuse(res: ServerResponse): false {
  res
    .writeHead(401, { "Content-Type": "application/json", "WWW-Authenticate": 'Bearer error="invalid_token"' })
    .end(JSON.stringify({ error: "invalid_token" }));
  return false;
}

/** An upstream's token check with no leeway: dead from the millisecond `exp` is reached. */
function expired(token: string): boolean {
  return decodeJwt(token).exp! * 1000 <= Date.now();
}

/** Tokens an upstream refused, per upstream. */
const refused = { strict: [] as string[], short: [] as string[] };
/** Per argument text: the tokens that reached the refusing MCP upstream with it. */
const refusingAttempts = new Map<string, string[]>();
/** Per path: the tokens that reached the REST API. */
const restAttempts = new Map<string, string[]>();

let strict: RecordingMcpServer;
let short: RecordingMcpServer;
let refusing: RecordingMcpServer;
let rest: PlainHttpServer;
let stack: Stack;
let gateway: RunningWorker;

/** An MCP upstream that checks `exp` strictly on every request, calls arriving after the slow hop. */
function strictUpstream(into: string[]) {
  return startRecordingMcpServer({
    gate: async (req, res, message) => {
      if (message?.method === "tools/call") await new Promise((resolve) => setTimeout(resolve, HOP_MS));
      const token = bearer(req);
      if (!expired(token)) return true;
      into.push(token);
      return refuse(res);
    },
  });
}

beforeAll(async () => {
  [strict, short, refusing, rest] = await Promise.all([
    strictUpstream(refused.strict),
    strictUpstream(refused.short),
    // Refuses tools/call by its text argument: "refuse-once-…" the first time, "refuse-always-…" every time.
    startRecordingMcpServer({
      gate: (req, res, message) => {
        if (message?.method !== "tools/call") return true;
        const text = (message.params as { arguments?: { text?: string } }).arguments?.text ?? "";
        const attempts = refusingAttempts.get(text) ?? [];
        attempts.push(bearer(req));
        refusingAttempts.set(text, attempts);
        if (text.startsWith("refuse-always") || (text.startsWith("refuse-once") && attempts.length === 1))
          return refuse(res);
        return true;
      },
    }),
    // GET /things/{name}: "once-…" is refused the first time, "always-…" every time.
    startPlainHttpServer((req, res) => {
      const name = decodeURIComponent(new URL(req.url!, "http://x").pathname.replace(/^\/things\//, ""));
      const attempts = restAttempts.get(name) ?? [];
      attempts.push(bearer(req));
      restAttempts.set(name, attempts);
      if (name.startsWith("always") || (name.startsWith("once") && attempts.length === 1)) return void refuse(res);
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ name }));
    }),
  ]);
  const exchange = (audience: string, ttl: string) => ({
    type: "tokenExchange",
    tokenExchange: { idp: "auth", audience, defaults: { ttl } },
  });
  stack = await startStack({
    exchangeAudiences: [STRICT_API, SHORT_API, REFUSING_API, REST_API],
    apps: [
      {
        name: "strict",
        type: "mcpProxy",
        upstream: { stream: { url: strict.url } },
        timeout: "5s",
        authorization: { outbound: exchange(STRICT_API, "2s") },
      },
      {
        name: "short",
        type: "mcpProxy",
        upstream: { stream: { url: short.url } },
        timeout: "5s",
        authorization: { outbound: exchange(SHORT_API, "1s") },
      },
      {
        name: "refusing",
        type: "mcpProxy",
        upstream: { stream: { url: refusing.url } },
        authorization: { outbound: exchange(REFUSING_API, "30s") },
      },
      {
        name: "rest",
        type: "mcpBridge",
        openapi: {
          spec: {
            inline: {
              openapi: "3.1.0",
              info: { title: "Things", version: "1" },
              paths: {
                "/things/{name}": {
                  get: {
                    operationId: "getThing",
                    parameters: [{ name: "name", in: "path", required: true, schema: { type: "string" } }],
                    responses: { "200": { description: "The thing" } },
                  },
                },
              },
            },
          },
          baseURL: rest.url.replace(/\/mcp$/, ""),
        },
        authorization: { outbound: exchange(REST_API, "30s") },
      },
    ],
  });
  gateway = stack.as(await stack.token());
});
afterAll(async () => {
  await stack?.dispose();
  await Promise.all([strict, short, refusing, rest].map((server) => server?.close()));
});

let nextId = 1;
async function call(sessionId: string, name: string, args: Record<string, unknown>) {
  const res = await postOnSession(gateway, sessionId, {
    jsonrpc: "2.0",
    id: ++nextId,
    method: "tools/call",
    params: { name, arguments: args },
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { result?: { isError?: boolean; content: { text: string }[] } };
  return body.result!;
}

/** `lanes` sessions, each calling `tool` back to back for `forMs`; every result. */
async function callsStraddlingExpiry(tool: string, lanes: number, forMs: number) {
  const until = Date.now() + forMs;
  const results = await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      const sessionId = await openSession(gateway);
      const mine: { isError?: boolean; content: { text: string }[] }[] = [];
      for (let n = 0; Date.now() < until; n++)
        mine.push(await call(sessionId, tool, { text: `lane ${lane} call ${n}` }));
      return mine;
    }),
  );
  return results.flat();
}

describe("cached exchanged tokens under an upstream that enforces exp strictly", () => {
  it(
    "with a 2 s TTL, no call fails and no token reaches the upstream dead, over many calls straddling expiry",
    { timeout: 40_000 },
    async () => {
      const results = await callsStraddlingExpiry("strict__echo", 4, 6_000);
      expect(results.length).toBeGreaterThanOrEqual(24);
      expect(results.filter((r) => r.isError)).toEqual([]);
      expect(refused.strict).toEqual([]);
    },
  );

  it(
    "with a 1 s TTL, no call fails (a token issued late in its second that dies on the way costs one new exchange)",
    { timeout: 40_000 },
    async () => {
      const results = await callsStraddlingExpiry("short__echo", 4, 5_000);
      expect(results.length).toBeGreaterThanOrEqual(20);
      expect(results.filter((r) => r.isError)).toEqual([]);
    },
  );
});

describe("an upstream's 401 to an exchanged token", () => {
  it("MCP Proxy: a call refused once succeeds after one new exchange", async () => {
    const sessionId = await openSession(gateway);
    const result = await call(sessionId, "refusing__echo", { text: "refuse-once-1" });
    expect(result).toEqual({ content: [{ type: "text", text: "refuse-once-1" }] });
    const attempts = refusingAttempts.get("refuse-once-1")!;
    expect(attempts).toHaveLength(2);
    expect(decodeJwt(attempts[1]!).jti).not.toBe(decodeJwt(attempts[0]!).jti);
  });

  it("MCP Proxy: a call refused every time is a tool error after exactly two attempts", async () => {
    const sessionId = await openSession(gateway);
    const result = await call(sessionId, "refusing__echo", { text: "refuse-always-1" });
    expect(result.isError).toBe(true);
    expect(result.content[0]!.text).toContain("401");
    const attempts = refusingAttempts.get("refuse-always-1")!;
    expect(attempts).toHaveLength(2);
    expect(decodeJwt(attempts[1]!).jti).not.toBe(decodeJwt(attempts[0]!).jti);
  });

  it("MCP Bridge: a call refused once succeeds after one new exchange", async () => {
    const sessionId = await openSession(gateway);
    const result = await call(sessionId, "rest__getThing", { name: "once-1" });
    expect(result.isError).toBeFalsy();
    const attempts = restAttempts.get("once-1")!;
    expect(attempts).toHaveLength(2);
    expect(decodeJwt(attempts[1]!).jti).not.toBe(decodeJwt(attempts[0]!).jti);
  });

  it("MCP Bridge: a call refused every time is a tool error after exactly two attempts", async () => {
    const sessionId = await openSession(gateway);
    const result = await call(sessionId, "rest__getThing", { name: "always-1" });
    expect(result.isError).toBe(true);
    expect(result.content[0]!.text).toContain("invalid_token");
    expect(restAttempts.get("always-1")).toHaveLength(2);
  });

  it("a token the upstream refused is not reused: the next call in the session gets the new one", async () => {
    const sessionId = await openSession(gateway);
    await call(sessionId, "refusing__echo", { text: "refuse-once-2" });
    await call(sessionId, "refusing__echo", { text: "after-2" });
    const [refusedToken, replacement] = refusingAttempts.get("refuse-once-2")!;
    expect(refusingAttempts.get("after-2")).toEqual([replacement]);
    expect(replacement).not.toBe(refusedToken);
  });
});

describe("the expiry the gateway reckons for an exchanged token", () => {
  const idp = identityProviderSchema.parse({
    tokenEndpoint: "https://idp.test/token",
    clientId: "gateway",
    clientSecret: { env: "SECRET" },
  });
  const request = {
    subjectToken: "agent-token",
    audience: STRICT_API,
    scopes: [],
    ttlMs: 2_000,
    type: "delegation" as const,
  };
  /** An identity provider answering with `token` and `expires_in`. */
  const answering = (token: string, expiresIn: number): BindingFetcher => ({
    fetch: async () =>
      Response.json({
        access_token: token,
        token_type: "Bearer",
        issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
        expires_in: expiresIn,
      }),
  });

  it("is the token's own exp, which a whole-second iat puts before receive time + expires_in", async () => {
    const iat = Math.floor(Date.now() / 1000) - 1; // issued late in the previous second
    const jwt = new UnsecuredJWT({ jti: "j1" })
      .setIssuedAt(iat)
      .setExpirationTime(iat + 2)
      .encode();
    const exchanged = await exchangeToken(idp, "secret", request, answering(jwt, 2));
    expect(exchanged).toEqual({ token: jwt, expiresAt: (iat + 2) * 1000, jti: "j1" });
  });

  it("is the send time + expires_in for a token that is not a JWT (or whose exp is later)", async () => {
    const before = Date.now();
    const exchanged = await exchangeToken(idp, "secret", request, answering("opaque-token", 2));
    expect(exchanged.expiresAt).toBeGreaterThanOrEqual(before + 2_000);
    expect(exchanged.expiresAt).toBeLessThanOrEqual(Date.now() + 2_000);
  });
});
