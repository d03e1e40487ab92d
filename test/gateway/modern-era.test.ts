// MCP 2026-07-28 at the gateway's endpoint, end to end in workerd: a v2 SDK client negotiating
// the per-request revision, raw HTTP for each MUST of the revision (headers against the body, the
// `_meta` envelope, removed methods, `resultType`, caching hints, ids on errors), the context each
// principal gets instead of a session (one token exchange for a burst of calls, nothing shared
// with another agent), hostile inputs, and an upstream that hangs. The legacy suites keep the
// session-based revisions' behaviour.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAuditSink, type AuditSinkServer } from "../helpers/audit-sink.js";
import { exchangingProxyApp, startStack, type Stack } from "../helpers/gateway-stack.js";
import { openSession, parseSse, postMcp } from "../helpers/mcp.js";
import {
  startPlainHttpServer,
  startRecordingMcpServer,
  type PlainHttpServer,
  type RecordingMcpServer,
} from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const MODERN = "2026-07-28";
const TRACKER_API = "https://tracker.test";
const SPANNER_API = "https://spanner.test";

let upstream: RecordingMcpServer;
let headerUpstream: PlainHttpServer;
/** While true, the x-mcp-header upstream answers 503 to everything. */
let sqlDown = false;
let sink: AuditSinkServer;
let stack: Stack;
let tokenA: string;
let gatewayA: RunningWorker;

/** The `x-mcp-header` tool of the MCP 2026-07-28 transports spec, served by a hand-written session-based upstream. */
const EXECUTE_SQL = {
  name: "execute_sql",
  description: "Runs SQL in a region",
  inputSchema: {
    type: "object",
    properties: {
      region: { type: "string", "x-mcp-header": "Region" },
      limit: { type: "integer", "x-mcp-header": "Limit" },
      query: { type: "string" },
    },
    required: ["region", "query"],
  },
};

beforeAll(async () => {
  upstream = await startRecordingMcpServer();
  headerUpstream = await startPlainHttpServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const message = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as {
      id?: number;
      method?: string;
      params?: { arguments?: unknown };
    };
    if (sqlDown) return void res.writeHead(503).end();
    if (message.id === undefined) return void res.writeHead(202).end();
    const results: Record<string, unknown> = {
      initialize: {
        protocolVersion: "2025-11-25",
        capabilities: { tools: {} },
        serverInfo: { name: "sql", version: "1" },
      },
      "tools/list": { tools: [EXECUTE_SQL] },
      "tools/call": { content: [{ type: "text", text: JSON.stringify(message.params?.arguments) }] },
    };
    const result = results[message.method ?? ""];
    res
      .writeHead(200, { "Content-Type": "application/json", "Mcp-Session-Id": "sql-session" })
      .end(
        JSON.stringify(
          result
            ? { jsonrpc: "2.0", id: message.id, result }
            : { jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "no" } },
        ),
      );
  });
  sink = await startAuditSink();
  stack = await startStack({
    exchangeAudiences: [TRACKER_API, SPANNER_API],
    audit: { sink: { url: sink.url, flushInterval: "20ms" } },
    stream: { cacheTtl: "90s", keepAlive: "200ms", allowedOrigins: ["https://app.example"] },
    apps: [
      {
        ...exchangingProxyApp("tracker", upstream.url, TRACKER_API),
        timeout: "1s",
        authorization: {
          outbound: {
            type: "tokenExchange",
            tokenExchange: {
              idp: "auth",
              audience: TRACKER_API,
              defaults: { ttl: "60s" },
              // A configuration of its own (its own cache entry), so the burst below finds no token yet.
              tools: [{ name: "list_things", ttl: "60s", scopes: [{ name: "tools:read" }] }],
            },
          },
        },
      },
      exchangingProxyApp("sql", headerUpstream.url, SPANNER_API),
    ],
  });
  tokenA = await stack.token("agent-a");
  gatewayA = stack.as(tokenA);
});
afterAll(async () => {
  await stack.dispose();
  await Promise.all([upstream.close(), headerUpstream.close(), sink.close()]);
});

let nextId = 1000;

/** The `_meta` envelope every 2026-07-28 request carries (basic/index, "Per-request protocol fields"). */
function envelope(extra: Record<string, unknown> = {}) {
  return {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": { name: "modern-test", version: "1.0.0" },
    "io.modelcontextprotocol/clientCapabilities": {},
    ...extra,
  };
}

/** A 2026-07-28 request as a conforming client sends it: the envelope and the mirrored headers. */
function modern(
  gateway: RunningWorker,
  method: string,
  params: Record<string, unknown> = {},
  options: { headers?: Record<string, string>; meta?: Record<string, unknown>; id?: number | string } = {},
) {
  const id = options.id ?? ++nextId;
  const name = typeof params.name === "string" ? params.name : typeof params.uri === "string" ? params.uri : undefined;
  return postMcp(
    gateway,
    { jsonrpc: "2.0", id, method, params: { ...params, _meta: envelope(options.meta) } },
    {
      "MCP-Protocol-Version": MODERN,
      "Mcp-Method": method,
      ...(name !== undefined && /^[\x20-\x7e]*$/.test(name) ? { "Mcp-Name": name } : {}),
      ...options.headers,
    },
  );
}

interface Reply {
  id: unknown;
  result?: Record<string, unknown> & { content?: { text: string }[]; isError?: boolean };
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

async function json(res: Response): Promise<Reply> {
  return (await res.json()) as Reply;
}

function upstreamTokens(tool: string, since: number): Set<string | undefined> {
  return new Set(
    upstream.requests
      .slice(since)
      .filter((r) => r.rpcMethod === "tools/call" && (r.params as { name: string }).name === tool)
      .map((r) => r.authorization),
  );
}

describe("the v2 SDK client", () => {
  it("negotiates 2026-07-28 through server/discover, then lists and calls tools without a session", async () => {
    const transport = new StreamableHTTPClientTransport(new URL(`${gatewayA.url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${tokenA}` } },
    });
    const client = new Client({ name: "v2-test", version: "1.0.0" }, { versionNegotiation: { mode: { pin: MODERN } } });
    await client.connect(transport);
    expect(client.getNegotiatedProtocolVersion()).toBe(MODERN);
    expect(transport.sessionId).toBeUndefined();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain("tracker__echo");
    const result = await client.callTool({ name: "tracker__echo", arguments: { text: "hi" } });
    expect(result.content).toEqual([{ type: "text", text: "hi" }]);
    await client.close();
  });
});

describe("the era of each request", () => {
  it("answers server/discover with every revision it speaks, its capabilities and identity, cacheable by anyone", async () => {
    const res = await modern(gatewayA, "server/discover");
    expect(res.status).toBe(200);
    const { result } = await json(res);
    expect(result).toMatchObject({
      resultType: "complete",
      supportedVersions: [MODERN, "2025-11-25", "2025-06-18", "2025-03-26"],
      capabilities: { tools: {}, prompts: {}, resources: {} },
      ttlMs: 90_000,
      cacheScope: "public",
      _meta: { "io.modelcontextprotocol/serverInfo": { name: "ai-identity-gateway" } },
    });
    expect(typeof result?.instructions).toBe("string");
  });

  it("keeps serving 2025-11-25 sessions beside it at the same endpoint", async () => {
    const sessionId = await openSession(gatewayA);
    const res = await postMcp(
      gatewayA,
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
      { "Mcp-Session-Id": sessionId, "MCP-Protocol-Version": "2025-11-25" },
    );
    const { result } = await json(res);
    expect(result?.resultType).toBeUndefined();
    expect((result?.tools as unknown[]).length).toBeGreaterThan(0);
  });

  it("ignores a session id on a 2026-07-28 request and mints none", async () => {
    const sessionId = await openSession(gatewayA);
    const res = await modern(gatewayA, "tools/list", {}, { headers: { "Mcp-Session-Id": sessionId } });
    expect(res.status).toBe(200);
    expect(res.headers.get("Mcp-Session-Id")).toBeNull();
    expect((await json(res)).result?.resultType).toBe("complete");
  });

  it("lets an allowed browser origin send the request metadata headers, Mcp-Param ones included", async () => {
    const res = await stack.gateway.fetch("/mcp", {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, mcp-method, mcp-name, mcp-param-region, x-evil",
      },
    });
    const allowed = (res.headers.get("Access-Control-Allow-Headers") ?? "").toLowerCase().split(/\s*,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(["mcp-method", "mcp-name", "mcp-param-region"]));
    expect(allowed).not.toContain("x-evil");
  });

  it("authenticates before it classifies: no token, 401 with WWW-Authenticate", async () => {
    const res = await postMcp(
      stack.gateway,
      { jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: envelope() } },
      { "MCP-Protocol-Version": MODERN, "Mcp-Method": "server/discover" },
    );
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer /);
  });
});

describe("results", () => {
  it("marks lists complete, names the server and gives a private caching hint", async () => {
    for (const method of ["tools/list", "prompts/list", "resources/list", "resources/templates/list"]) {
      const { result } = await json(await modern(gatewayA, method));
      expect(result, method).toMatchObject({
        resultType: "complete",
        ttlMs: 90_000,
        cacheScope: "private",
        _meta: { "io.modelcontextprotocol/serverInfo": { name: "ai-identity-gateway" } },
      });
    }
  });

  it("marks a resource read complete and private, fresh only as long as the upstream said", async () => {
    const { result: listed } = await json(await modern(gatewayA, "resources/list"));
    const uri = (listed?.resources as { uri: string }[])[0]!.uri;
    const { result } = await json(await modern(gatewayA, "resources/read", { uri }));
    expect(result).toMatchObject({ resultType: "complete", ttlMs: 0, cacheScope: "private" });
    expect(Array.isArray(result?.contents)).toBe(true);
  });

  it("marks a tool result, a prompt and a completion complete, audited with the revision", async () => {
    const { result } = await json(
      await modern(gatewayA, "tools/call", { name: "tracker__add", arguments: { a: 2, b: 3 } }),
    );
    expect(result).toMatchObject({ resultType: "complete", structuredContent: { sum: 5 } });
    expect(result?.ttlMs).toBeUndefined();
    const prompt = await json(
      await modern(gatewayA, "prompts/get", { name: "tracker__greet", arguments: { name: "Ada" } }),
    );
    expect(prompt.result).toMatchObject({ resultType: "complete", messages: expect.any(Array) });
    const completion = await json(
      await modern(gatewayA, "completion/complete", {
        ref: { type: "ref/prompt", name: "tracker__greet" },
        argument: { name: "name", value: "A" },
      }),
    );
    expect(completion.result).toMatchObject({ resultType: "complete", completion: { values: expect.any(Array) } });
    const event = await waitFor(() =>
      sink.events.find((e) => e.method === "prompts/get" && e.prompt === "tracker__greet"),
    );
    expect(event).toMatchObject({ agent: "agent-a", decision: "allow", protocol_version: MODERN });
  });

  it("answers a resource nobody serves with -32602 and the request's id", async () => {
    const reply = await json(await modern(gatewayA, "resources/read", { uri: "nowhere://x" }, { id: "r-1" }));
    expect(reply).toMatchObject({ id: "r-1", error: { code: -32602 } });
  });

  it("sends log messages only when the request asked for them, at its level or above", async () => {
    const quiet = await modern(gatewayA, "tools/call", { name: "tracker__report", arguments: { steps: 1 } });
    expect(quiet.headers.get("Content-Type")).toMatch(/application\/json/);
    expect((await json(quiet)).result?.resultType).toBe("complete");

    const chatty = await modern(
      gatewayA,
      "tools/call",
      { name: "tracker__report", arguments: { steps: 1 } },
      { meta: { "io.modelcontextprotocol/logLevel": "info" } },
    );
    expect(chatty.headers.get("X-Accel-Buffering")).toBe("no");
    const messages = parseSse(await chatty.text()) as { method?: string; result?: unknown }[];
    expect(messages.map((m) => m.method ?? "reply")).toEqual(["notifications/message", "reply"]);

    const above = await modern(
      gatewayA,
      "tools/call",
      { name: "tracker__report", arguments: { steps: 1 } },
      { meta: { "io.modelcontextprotocol/logLevel": "error" } },
    );
    expect(above.headers.get("Content-Type")).toMatch(/application\/json/);
  });
});

describe("what the revision refuses", () => {
  it("refuses an Mcp-Method header that disagrees with the body: 400, -32020, the request's id", async () => {
    const res = await modern(gatewayA, "tools/list", {}, { headers: { "Mcp-Method": "tools/call" }, id: 7 });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ id: 7, error: { code: -32020 } });
  });

  it("refuses a missing Mcp-Method, a missing or different Mcp-Name, and a broken Base64 sentinel", async () => {
    const noMethod = await postMcp(
      gatewayA,
      { jsonrpc: "2.0", id: 8, method: "tools/list", params: { _meta: envelope() } },
      { "MCP-Protocol-Version": MODERN },
    );
    expect(noMethod.status).toBe(400);
    expect(await json(noMethod)).toMatchObject({ id: 8, error: { code: -32020 } });

    const call = { name: "tracker__echo", arguments: { text: "x" } };
    const noName = await postMcp(
      gatewayA,
      { jsonrpc: "2.0", id: 9, method: "tools/call", params: { ...call, _meta: envelope() } },
      { "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call" },
    );
    expect(await json(noName)).toMatchObject({ id: 9, error: { code: -32020 } });

    for (const name of ["tracker__fail", "=?base64?not base64!?=", "=?base64?/w==?="]) {
      const res = await modern(gatewayA, "tools/call", call, { headers: { "Mcp-Name": name }, id: 10 });
      expect(res.status, name).toBe(400);
      expect(await json(res), name).toMatchObject({ id: 10, error: { code: -32020 } });
    }
  });

  it("takes a name in the Base64 sentinel form, decoded before it is compared", async () => {
    const encoded = `=?base64?${btoa("tracker__echo")}?=`;
    const res = await modern(
      gatewayA,
      "tools/call",
      { name: "tracker__echo", arguments: { text: "b64" } },
      {
        headers: { "Mcp-Name": encoded },
      },
    );
    expect(res.status).toBe(200);
    expect((await json(res)).result?.content?.[0]?.text).toBe("b64");
  });

  it("refuses a name outside visible ASCII in Mcp-Name, and one whose sentinel decodes to another name", async () => {
    const other = `=?base64?${btoa("tracker__fail")}?=`;
    const res = await modern(
      gatewayA,
      "tools/call",
      { name: "tracker__echo", arguments: { text: "x" } },
      {
        headers: { "Mcp-Name": other },
      },
    );
    expect(res.status).toBe(400);
    const utf8 = `=?base64?${Buffer.from("tracker__échø", "utf8").toString("base64")}?=`;
    const unicode = await modern(
      gatewayA,
      "tools/call",
      { name: "tracker__échø", arguments: {} },
      {
        headers: { "Mcp-Name": utf8 },
      },
    );
    // The name matches its header; the tool does not exist: -32602, not a header error.
    expect(await json(unicode)).toMatchObject({ error: { code: -32602 } });
  });

  it("refuses a request whose envelope lacks clientCapabilities: 400, -32602", async () => {
    const res = await postMcp(
      gatewayA,
      {
        jsonrpc: "2.0",
        id: 11,
        method: "tools/list",
        params: { _meta: { "io.modelcontextprotocol/protocolVersion": MODERN } },
      },
      { "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list" },
    );
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ id: 11, error: { code: -32602 } });
  });

  it("refuses a modern header on a request without the envelope: 400, -32602", async () => {
    const res = await postMcp(
      gatewayA,
      { jsonrpc: "2.0", id: 12, method: "tools/list" },
      { "MCP-Protocol-Version": MODERN },
    );
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ id: 12, error: { code: -32602 } });
  });

  it("refuses a revision it does not speak with -32022 and the revisions it does", async () => {
    const res = await postMcp(
      gatewayA,
      {
        jsonrpc: "2.0",
        id: 13,
        method: "tools/list",
        params: { _meta: { ...envelope(), "io.modelcontextprotocol/protocolVersion": "2099-01-01" } },
      },
      { "MCP-Protocol-Version": "2099-01-01", "Mcp-Method": "tools/list" },
    );
    expect(res.status).toBe(400);
    const reply = await json(res);
    expect(reply).toMatchObject({ id: 13, error: { code: -32022 } });
    expect(reply.error?.data?.supported).toContain(MODERN);
  });

  it("refuses a version header that disagrees with the envelope with -32020", async () => {
    const res = await modern(gatewayA, "tools/list", {}, { headers: { "MCP-Protocol-Version": "2025-11-25" }, id: 14 });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ id: 14, error: { code: -32020 } });
  });

  it("answers the methods this revision removed, and unknown ones, with 404 and -32601", async () => {
    for (const method of [
      "ping",
      "logging/setLevel",
      "resources/subscribe",
      "resources/unsubscribe",
      "initialize",
      "no/such",
    ]) {
      const params = method.startsWith("resources/")
        ? { uri: "thing://readme" }
        : method === "logging/setLevel"
          ? { level: "info" }
          : {};
      const res = await modern(gatewayA, method, params, { id: method });
      expect(res.status, method).toBe(404);
      expect(await json(res), method).toMatchObject({ id: method, error: { code: -32601 } });
    }
  });

  it("refuses GET and DELETE for this revision with 405", async () => {
    for (const method of ["GET", "DELETE"]) {
      const res = await gatewayA.fetch("/mcp", {
        method,
        headers: { Accept: "text/event-stream", "MCP-Protocol-Version": MODERN },
      });
      expect(res.status, method).toBe(405);
      expect(res.headers.get("Allow")).toBe("POST");
    }
  });

  it("refuses a batch holding a 2026-07-28 request", async () => {
    const res = await postMcp(gatewayA, [
      { jsonrpc: "2.0", id: 15, method: "tools/list", params: { _meta: envelope() } },
    ]);
    expect(res.status).toBe(400);
    expect((await json(res)).error?.code).toBe(-32600);
  });

  it("refuses a body larger than the limit with 413 before reading it", async () => {
    const res = await modern(gatewayA, "tools/call", {
      name: "tracker__echo",
      arguments: { text: "x".repeat(1_100_000) },
    });
    expect(res.status).toBe(413);
  });

  it("accepts a notification with 202 and does nothing with it", async () => {
    const res = await postMcp(
      gatewayA,
      { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1, _meta: envelope() } },
      { "MCP-Protocol-Version": MODERN, "Mcp-Method": "notifications/cancelled" },
    );
    expect(res.status).toBe(202);
  });
});

describe("tool parameters mirrored in headers (x-mcp-header)", () => {
  it("passes the upstream's x-mcp-header declarations through in tools/list", async () => {
    const { result } = await json(await modern(gatewayA, "tools/list"));
    const tool = (result?.tools as { name: string; inputSchema: { properties: Record<string, unknown> } }[]).find(
      (t) => t.name === "sql__execute_sql",
    );
    expect(tool?.inputSchema.properties.region).toMatchObject({ "x-mcp-header": "Region" });
  });

  it("takes a call whose Mcp-Param headers match its arguments, integers compared as numbers", async () => {
    const res = await modern(
      gatewayA,
      "tools/call",
      { name: "sql__execute_sql", arguments: { region: "us-west1", limit: 42, query: "SELECT 1" } },
      { headers: { "Mcp-Param-Region": "us-west1", "mcp-param-limit": "42.0" } },
    );
    expect(res.status).toBe(200);
    expect((await json(res)).result?.content?.[0]?.text).toContain("us-west1");
  });

  it("refuses a call whose Mcp-Param header is missing, differs or is malformed: 400, -32020", async () => {
    const args = { region: "Zürich", query: "SELECT 1" };
    const cases: Record<string, string>[] = [
      {},
      { "Mcp-Param-Region": "us-east1" },
      { "Mcp-Param-Region": "=?base64?broken" },
      { "Mcp-Param-Region": `=?base64?${Buffer.from("Zurich").toString("base64")}?=` },
    ];
    for (const headers of cases) {
      const res = await modern(
        gatewayA,
        "tools/call",
        { name: "sql__execute_sql", arguments: args },
        { headers, id: 16 },
      );
      expect(res.status, JSON.stringify(headers)).toBe(400);
      expect(await json(res)).toMatchObject({ id: 16, error: { code: -32020 } });
    }
    const encoded = `=?base64?${Buffer.from("Zürich", "utf8").toString("base64")}?=`;
    const ok = await modern(
      gatewayA,
      "tools/call",
      { name: "sql__execute_sql", arguments: args },
      {
        headers: { "Mcp-Param-Region": encoded },
      },
    );
    expect(ok.status).toBe(200);
  });
});

/** Reads an SSE body until `done` says the text so far is enough (or the deadline passes). */
async function readUntil(res: Response, done: (text: string) => boolean, deadlineMs = 10_000): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const until = Date.now() + deadlineMs;
  try {
    while (!done(text)) {
      if (Date.now() > until) throw new Error(`stream did not say it before the deadline: ${text}`);
      const { value, done: ended } = await reader.read();
      if (ended) break;
      text += decoder.decode(value, { stream: true });
    }
    return text;
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

describe("Mcp-Param headers after a listing that missed an app", () => {
  it("lists again before a call to that app, so its declarations are checked once it is back", async () => {
    const gateway = stack.as(await stack.token("agent-b"));
    sqlDown = true;
    try {
      const { result } = await json(await modern(gateway, "tools/list"));
      expect(JSON.stringify(result?._meta)).toContain('"app":"sql"');
    } finally {
      sqlDown = false;
    }
    const res = await modern(
      gateway,
      "tools/call",
      { name: "sql__execute_sql", arguments: { region: "eu-west1", query: "SELECT 1" } },
      { headers: { "Mcp-Param-Region": "us-east1" }, id: 31 },
    );
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ id: 31, error: { code: -32020 } });
  });
});

describe("subscriptions/listen", () => {
  it("acknowledges what it honours first, then delivers the upstream's tools list change under the subscription id", async () => {
    const res = await modern(
      gatewayA,
      "subscriptions/listen",
      { notifications: { toolsListChanged: true, resourceSubscriptions: ["thing://readme"] } },
      { id: "sub-1" },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/text\/event-stream/);
    const reading = readUntil(res, (text) => text.includes("notifications/tools/list_changed"));
    // The upstream reports its change on the response stream of the next call it answers.
    upstream.announceToolListChange();
    await json(await modern(gatewayA, "tools/call", { name: "tracker__echo", arguments: { text: "nudge" } }));
    const messages = parseSse(await reading) as { method: string; params: Record<string, unknown> }[];
    expect(messages[0]).toMatchObject({
      jsonrpc: "2.0",
      method: "notifications/subscriptions/acknowledged",
      params: {
        _meta: { "io.modelcontextprotocol/subscriptionId": "sub-1" },
        notifications: { toolsListChanged: true },
      },
    });
    expect(messages.at(-1)).toMatchObject({
      method: "notifications/tools/list_changed",
      params: { _meta: { "io.modelcontextprotocol/subscriptionId": "sub-1" } },
    });
    expect(messages.every((m) => !m.method.includes("prompts") && !m.method.includes("resources"))).toBe(true);
  });

  it("keeps a quiet stream alive with SSE comment lines", async () => {
    const res = await modern(gatewayA, "subscriptions/listen", { notifications: {} });
    const text = await readUntil(res, (seen) => /\n:[^\n]*\n/.test(seen) || seen.startsWith(":"));
    expect(text).toMatch(/(^|\n):/);
  });

  it("refuses a filter of the wrong shape with -32602 and a client that reads no event stream with 406", async () => {
    const bad = await modern(
      gatewayA,
      "subscriptions/listen",
      { notifications: { toolsListChanged: "yes" } },
      { id: 21 },
    );
    expect(bad.status).toBe(400);
    expect(await json(bad)).toMatchObject({ id: 21, error: { code: -32602 } });
    const jsonOnly = await modern(
      gatewayA,
      "subscriptions/listen",
      {},
      { id: 22, headers: { Accept: "application/json" } },
    );
    expect(jsonOnly.status).toBe(406);
    expect((await json(jsonOnly)).id).toBe(22);
  });

  it("bounds resourceSubscriptions at 100 URIs and acknowledges none of those no app serves, subscribing to nothing upstream", async () => {
    const uris = (n: number) => Array.from({ length: n }, (_, k) => `thing://items/${k}`);
    const tooMany = await modern(
      gatewayA,
      "subscriptions/listen",
      { notifications: { resourceSubscriptions: uris(101) } },
      { id: 23 },
    );
    expect(tooMany.status).toBe(400);
    expect(await json(tooMany)).toMatchObject({ id: 23, error: { code: -32602 } });
    const since = upstream.requests.length;
    const res = await modern(
      gatewayA,
      "subscriptions/listen",
      { notifications: { resourcesListChanged: true, resourceSubscriptions: uris(100) } },
      { id: "sub-100" },
    );
    expect(res.status).toBe(200);
    const [ack] = parseSse(await readUntil(res, (text) => text.includes("acknowledged")));
    // Two apps could serve a URI nobody listed, so none is routed (as a read of it would not be).
    expect(ack).toMatchObject({ params: { notifications: { resourcesListChanged: true, resourceSubscriptions: [] } } });
    expect(upstream.requests.slice(since).filter((r) => r.rpcMethod === "resources/subscribe")).toEqual([]);
  });
});

describe("the principal's context", () => {
  it("costs one token exchange for a burst of concurrent calls to one tool", async () => {
    const since = upstream.requests.length;
    const token = await stack.token("agent-a");
    const gateway = stack.as(token);
    const replies = await Promise.all(
      Array.from({ length: 8 }, () => modern(gateway, "tools/call", { name: "tracker__list_things", arguments: {} })),
    );
    for (const res of replies) expect(res.status).toBe(200);
    expect(upstreamTokens("list_things", since).size).toBe(1);
  });

  it("shares nothing with another agent of the same user: its own exchange, its own context in the audit", async () => {
    const tokenB = await stack.token("agent-b");
    const since = upstream.requests.length;
    await json(await modern(gatewayA, "tools/call", { name: "tracker__create_issue", arguments: { title: "a" } }));
    await json(
      await modern(stack.as(tokenB), "tools/call", { name: "tracker__create_issue", arguments: { title: "b" } }),
    );
    expect(upstreamTokens("create_issue", since).size).toBe(2);
    const events = await waitFor(() => {
      const found = sink.events.filter((e) => e.tool === "tracker__create_issue" && e.protocol_version === MODERN);
      return found.length >= 2 ? found : undefined;
    });
    const byAgent = new Map(events.map((e) => [e.agent, e]));
    expect(byAgent.get("agent-a")).toMatchObject({ decision: "allow", outcome: "success", protocol_version: MODERN });
    expect(byAgent.get("agent-b")).toBeDefined();
    expect(byAgent.get("agent-a")!.session_id).not.toBe(byAgent.get("agent-b")!.session_id);
  });

  it("never serves a token exchanged from a broader grant to a narrower token of the same agent", async () => {
    const narrow = stack.as(await stack.token("agent-a", undefined, "tools:read"));
    await json(await modern(gatewayA, "tools/call", { name: "tracker__echo", arguments: { text: "broad" } }));
    const since = upstream.requests.length;
    await json(await modern(narrow, "tools/call", { name: "tracker__echo", arguments: { text: "narrow" } }));
    await json(await modern(gatewayA, "tools/call", { name: "tracker__echo", arguments: { text: "broad again" } }));
    const [narrowCall, broadCall] = upstream.requests.slice(since).filter((r) => r.rpcMethod === "tools/call");
    expect(narrowCall?.authorization).toBeDefined();
    expect(narrowCall?.authorization).not.toBe(broadCall?.authorization);
  });

  it("serves a modern request carrying another agent's session id in the caller's own context, never that session", async () => {
    const sessionOfA = await openSession(gatewayA);
    const gatewayB = stack.as(await stack.token("agent-b"));
    const ofB = () => sink.events.filter((e) => e.tool === "tracker__create_issue" && e.agent === "agent-b");
    const before = ofB().length;
    const res = await modern(
      gatewayB,
      "tools/call",
      { name: "tracker__create_issue", arguments: { title: "hijack" } },
      { headers: { "Mcp-Session-Id": sessionOfA } },
    );
    expect((await json(res)).result?.resultType).toBe("complete");
    const event = await waitFor(() => (ofB().length > before ? ofB().at(-1) : undefined));
    expect(event.session_id).not.toBe(sessionOfA);
    expect(String(event.session_id)).toMatch(/^ctx-/);
  });

  it("answers a call to an upstream that hangs with a tool error when the app's timeout passes", async () => {
    const res = await modern(gatewayA, "tools/call", { name: "tracker__slow", arguments: { ms: 60_000 } });
    expect(res.status).toBe(200);
    const { result } = await json(res);
    expect(result).toMatchObject({ resultType: "complete", isError: true });
  });
});

async function waitFor<T>(probe: () => T | undefined, deadlineMs = 10_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error("condition not met before the deadline");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
