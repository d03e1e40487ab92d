// Tool calls through the gateway, end to end in workerd: an MCP Proxy app (a real MCP server
// started here, which records what reaches it), an MCP Bridge app (a real REST API with its
// OpenAPI document), an app whose upstream is down; per-tool token exchange at the real auth
// tier; and the audit events, collected by an HTTP sink started here.
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startAuditSink, type AuditSinkServer } from "../helpers/audit-sink.js";
import { startStack, type Stack } from "../helpers/gateway-stack.js";
import { deleteSession, initializeRequest, openSession, parseSse, postMcp, postOnSession } from "../helpers/mcp.js";
import { startRestApi, type RestApi } from "../helpers/rest-api.js";
import {
  startPlainHttpServer,
  startRecordingMcpServer,
  unreachableUrl,
  type RecordingMcpServer,
} from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const GITHUB_API = "https://api.github.test";
const CRM_API = "https://crm.test";

let upstream: RecordingMcpServer;
let rest: RestApi;
let stack: Stack;
let agentToken: string;
let gateway: RunningWorker;
let sink: AuditSinkServer;
let garbage: { url: string; close(): Promise<void> };
let audit: Record<string, unknown>[] = [];

beforeAll(async () => {
  [upstream, rest, garbage] = await Promise.all([
    startRecordingMcpServer(),
    startRestApi(),
    startPlainHttpServer((_req, res) =>
      res.writeHead(200, { "Content-Type": "text/plain" }).end("hello, I am not MCP"),
    ),
  ]);
  sink = await startAuditSink();
  audit = sink.events;
  const sinkUrl = sink.url;
  stack = await startStack({
    exchangeAudiences: [GITHUB_API, CRM_API],
    audit: { sink: { url: sinkUrl, flushInterval: "20ms" } },
    apps: [
      {
        name: "github",
        type: "mcpProxy",
        upstream: { transport: "stream", stream: { url: upstream.url } },
        timeout: "1s",
        authorization: {
          outbound: {
            type: "tokenExchange",
            tokenExchange: {
              type: "delegation",
              idp: "auth",
              audience: GITHUB_API,
              defaults: { ttl: "5s", scopes: [{ name: "tools:read" }] },
              tools: [
                { name: "create_issue", ttl: "5s", scopes: [{ name: "tools:write" }] },
                { name: "^list_.*$", ttl: "30s", scopes: [{ name: "tools:read" }] },
              ],
            },
          },
        },
      },
      {
        name: "crm",
        type: "mcpBridge",
        openapi: { spec: { uri: `${rest.url}/openapi.json` } },
        authorization: {
          outbound: {
            type: "tokenExchange",
            tokenExchange: { idp: "auth", audience: CRM_API, defaults: { ttl: "10s" } },
          },
        },
      },
      { name: "down", type: "mcpProxy", upstream: { stream: { url: await unreachableUrl() } } },
      { name: "garbage", type: "mcpProxy", upstream: { stream: { url: garbage.url } } },
      {
        name: "baddoc",
        type: "mcpBridge",
        openapi: { spec: { inline: { swagger: "2.0", paths: {} } }, baseURL: "https://x.test" },
      },
    ],
  });
  agentToken = await stack.token("agent-a");
  gateway = stack.as(agentToken);
});
afterAll(async () => {
  await stack.dispose();
  await Promise.all([upstream.close(), rest.close(), garbage.close(), sink.close()]);
});

let nextId = 100;
async function call(sessionId: string, name: string, args: Record<string, unknown> = {}) {
  const res = await postOnSession(gateway, sessionId, {
    jsonrpc: "2.0",
    id: ++nextId,
    method: "tools/call",
    params: { name, arguments: args },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as {
    result?: { content: { text: string }[]; structuredContent?: unknown; isError?: boolean };
    error?: { code: number };
  };
}

function lastUpstreamCall(tool: string) {
  const found = upstream.requests
    .filter((r) => r.rpcMethod === "tools/call" && (r.params as { name: string }).name === tool)
    .at(-1);
  if (!found?.authorization) throw new Error(`no call of ${tool} reached the upstream`);
  return { ...found, token: found.authorization.replace(/^Bearer /, "") };
}

describe("tools/list", () => {
  it("merges every app's tools under its namespace and reports each broken app on its own", async () => {
    const sessionId = await openSession(gateway);
    const res = await postOnSession(gateway, sessionId, { jsonrpc: "2.0", id: 1, method: "tools/list" });
    const body = (await res.json()) as { result: { tools: { name: string }[]; _meta?: Record<string, unknown> } };
    const names = body.result.tools.map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "github__echo",
        "github__create_issue",
        "github__list_things",
        "crm__listContacts",
        "crm__createContact",
      ]),
    );
    expect(names.some((n) => n.startsWith("down__"))).toBe(false);
    const unavailable = body.result._meta?.["gateway/unavailableApps"] as { app: string; error: string }[];
    expect(unavailable.map((u) => u.app).sort()).toEqual(["baddoc", "down", "garbage"]);
    expect(unavailable.find((u) => u.app === "down")?.error).toContain("unreachable");
  });
});

describe("tools/call through an MCP Proxy app", () => {
  it("forwards with a per-tool token from token exchange, never the agent's own token", async () => {
    const sessionId = await openSession(gateway);
    const reply = await call(sessionId, "github__create_issue", { title: "Hello" });
    expect(reply.result?.content[0]?.text).toMatch(/^created issue #\d+: Hello$/);
    const { token } = lastUpstreamCall("create_issue");
    expect(token).not.toBe(agentToken);
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      aud: GITHUB_API,
      sub: "agent-a",
      client_id: "gateway",
      scope: "tools:write",
      act: { sub: "agent-a", client_id: "agent-a" },
    });
    expect(claims.exp! - claims.iat!).toBe(5);
  });

  it("uses the first tool configuration whose regex matches the whole name", async () => {
    const sessionId = await openSession(gateway);
    await call(sessionId, "github__list_things");
    const claims = decodeJwt(lastUpstreamCall("list_things").token);
    expect(claims).toMatchObject({ scope: "tools:read" });
    expect(claims.exp! - claims.iat!).toBe(30);
  });

  it("reuses one exchanged token for a burst of calls to one tool", async () => {
    const sessionId = await openSession(gateway);
    const before = upstream.requests.length;
    for (let i = 0; i < 6; i++) await call(sessionId, "github__list_things");
    const tokens = new Set(
      upstream.requests
        .slice(before)
        .filter((r) => r.rpcMethod === "tools/call")
        .map((r) => r.authorization),
    );
    expect(tokens.size).toBe(1);
  });

  it("passes the upstream's result through unchanged, errors included", async () => {
    const sessionId = await openSession(gateway);
    expect((await call(sessionId, "github__add", { a: 2, b: 3 })).result).toMatchObject({
      structuredContent: { sum: 5 },
    });
    expect((await call(sessionId, "github__fail")).result?.isError).toBe(true);
  });

  it("answers an unknown tool, or a name that tries to leave its namespace, with -32602", async () => {
    const sessionId = await openSession(gateway);
    for (const name of ["github__nope", "github__", "crm__../github__echo", "echo", "down__anything"]) {
      const reply = await call(sessionId, name);
      if (name === "down__anything") expect(reply.result?.isError).toBe(true);
      else expect(reply.error?.code, name).toBe(-32602);
    }
  });

  it("turns an upstream that does not answer in time into a tool error result", async () => {
    const sessionId = await openSession(gateway);
    const reply = await call(sessionId, "github__slow", { ms: 10_000 });
    expect(reply.result?.isError).toBe(true);
    expect(reply.result?.content[0]?.text).toMatch(/unavailable/);
  });
});

describe("hostile and oversized calls", () => {
  it("refuses arguments larger than the request body limit with 413", async () => {
    const sessionId = await openSession(gateway);
    const res = await postOnSession(gateway, sessionId, {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "github__echo", arguments: { text: "x".repeat(2 * 1024 * 1024) } },
    });
    expect(res.status).toBe(413);
  });

  it("answers tools/call without a name as Invalid params", async () => {
    const sessionId = await openSession(gateway);
    const res = await postOnSession(gateway, sessionId, {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { arguments: {} },
    });
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32602);
  });
});

describe("tools/call through an MCP Bridge app", () => {
  it("calls the REST operation with an exchanged token and returns JSON as structured content", async () => {
    const sessionId = await openSession(gateway);
    const reply = await call(sessionId, "crm__createContact", { body: { name: "Ada", email: "ada@example.com" } });
    expect(reply.result?.isError).toBeFalsy();
    expect(reply.result?.structuredContent).toMatchObject({ name: "Ada" });
    const request = rest.requests.filter((r) => r.method === "POST").at(-1)!;
    const token = String(request.headers.authorization).replace(/^Bearer /, "");
    expect(token).not.toBe(agentToken);
    expect(decodeJwt(token)).toMatchObject({ aud: CRM_API, sub: "agent-a", client_id: "gateway" });
  });

  it("marks a 5xx answer as a tool error", async () => {
    const sessionId = await openSession(gateway);
    expect((await call(sessionId, "crm__quarterlyReport")).result?.isError).toBe(true);
  });

  it("answers arguments that do not fit the input schema with a tool error naming the problem, before any exchange or request", async () => {
    const sessionId = await openSession(gateway);
    const before = rest.requests.length;
    const reply = await call(sessionId, "crm__listContacts", { limit: "all" });
    expect(reply.result).toEqual({
      isError: true,
      content: [
        {
          type: "text",
          text: 'Invalid arguments for crm__listContacts: limit: Instance type "string" is invalid. Expected "integer".',
        },
      ],
    });
    expect(rest.requests.length).toBe(before);
    const event = await vi.waitFor(() => {
      const found = audit.find((e) => e.session_id === sessionId);
      if (!found) throw new Error("no audit event yet");
      return found;
    });
    expect(event).toMatchObject({
      tool: "crm__listContacts",
      app: "crm",
      decision: "allow",
      outcome: "invalid_arguments",
      reason: expect.stringContaining("limit"),
    });
    expect(event).not.toHaveProperty("token_jti");
  });
});

describe("audit", () => {
  it("records one event per tool call, naming agent and user, the exchanged token's jti, and never a token", async () => {
    const startedAt = Date.now();
    const sessionId = await openSession(gateway);
    await call(sessionId, "github__echo", { text: "audited" });
    await call(sessionId, "github__nope");
    await vi.waitFor(() => expect(audit.filter((e) => e.session_id === sessionId)).toHaveLength(2), { timeout: 5_000 });
    const [ok, unknown] = audit.filter((e) => e.session_id === sessionId);
    expect(ok).toMatchObject({
      agent: "agent-a",
      user: "agent-a",
      tool: "github__echo",
      app: "github",
      decision: "allow",
      outcome: "success",
      upstream_status: 200,
      token_jti: expect.any(String),
    });
    expect(unknown).toMatchObject({ tool: "github__nope", decision: "deny", outcome: "unknown_tool" });
    for (const event of [ok, unknown]) {
      expect(event!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Date.parse(event!.time as string)).toBeGreaterThanOrEqual(startedAt - 1_000);
      expect(Date.parse(event!.time as string)).toBeLessThanOrEqual(Date.now() + 1_000);
    }
    expect(JSON.stringify(audit)).not.toContain(agentToken);
    expect(JSON.stringify(audit)).not.toMatch(/eyJ[\w-]+\.eyJ/);
  });
});

describe("server-to-client notifications", () => {
  it("relays an upstream's tools/list_changed to the agent's GET stream", async () => {
    const sessionId = await openSession(gateway);
    await call(sessionId, "github__echo", { text: "establish the upstream session" });
    const controller = new AbortController();
    const stream = await gateway.fetch("/mcp", {
      headers: { Accept: "text/event-stream", "Mcp-Session-Id": sessionId },
      signal: controller.signal,
    });
    const reader = stream.body!.getReader();
    upstream.announceToolListChange();
    // The upstream delivers the notification on the response stream of the next call.
    await call(sessionId, "github__echo", { text: "carry the notification" });
    let seen = "";
    await vi.waitFor(
      async () => {
        const { value } = await reader.read();
        seen += new TextDecoder().decode(value);
        expect(seen).toContain('"method":"notifications/tools/list_changed"');
      },
      { timeout: 5_000 },
    );
    controller.abort();
  });
});

describe("ending a session", () => {
  it("ends the upstream session too when the agent ends its session, with an exchanged token", async () => {
    const sessionId = await openSession(gateway);
    await call(sessionId, "github__echo", { text: "open the upstream session" });
    const upstreamSession = upstream.requests.filter((r) => r.rpcMethod === "tools/call").at(-1)!.sessionId!;
    expect((await deleteSession(gateway, sessionId)).status).toBe(204);
    const closed = await vi.waitFor(() => {
      const found = upstream.requests.find((r) => r.httpMethod === "DELETE" && r.sessionId === upstreamSession);
      if (!found) throw new Error("no DELETE reached the upstream yet");
      return found;
    });
    expect(closed.authorization).toMatch(/^Bearer /);
    expect(closed.authorization).not.toBe(`Bearer ${agentToken}`);
  });
});

describe("notifications and utilities passed through for a request", () => {
  it("relays the upstream's progress and log messages about a call on the call's own SSE response, before the result", async () => {
    const sessionId = await openSession(gateway);
    const res = await postOnSession(gateway, sessionId, {
      jsonrpc: "2.0",
      id: ++nextId,
      method: "tools/call",
      params: { name: "github__report", arguments: { steps: 3 }, _meta: { progressToken: "p-1" } },
    });
    expect(res.headers.get("Content-Type")).toBe("text/event-stream");
    const messages = parseSse(await res.text()) as {
      method?: string;
      params?: Record<string, unknown>;
      result?: unknown;
    }[];
    expect(messages.filter((m) => m.method === "notifications/progress").map((m) => m.params)).toEqual(
      [1, 2, 3].map((progress) => ({ progressToken: "p-1", progress, total: 3 })),
    );
    expect(messages.find((m) => m.method === "notifications/message")?.params).toEqual({
      level: "info",
      logger: "report",
      data: "reported 3 steps",
    });
    expect(messages.at(-1)?.result).toEqual({ content: [{ type: "text", text: "done in 3 steps" }] });
  });

  it("relays an upstream's elicitation to the agent while the call runs, and the agent's answer back", async () => {
    const sessionId = await openSession(gateway, undefined, { elicitation: {} });
    const res = await postOnSession(gateway, sessionId, {
      jsonrpc: "2.0",
      id: ++nextId,
      method: "tools/call",
      params: { name: "github__ask_client", arguments: { question: "Your name?" } },
    });
    expect(res.headers.get("Content-Type")).toBe("text/event-stream");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const nextMessage = async (): Promise<{
      id?: string | number;
      method?: string;
      params?: Record<string, unknown>;
      result?: { content: { text: string }[] };
    }> => {
      for (;;) {
        const end = text.indexOf("\n\n");
        if (end >= 0) {
          const [message] = parseSse(text.slice(0, end + 2));
          text = text.slice(end + 2);
          if (message) return message as never;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("the stream ended");
        text += value;
      }
    };
    // The question arrives while the call is still running, under the gateway's own id.
    const question = await nextMessage();
    expect(question).toMatchObject({
      method: "elicitation/create",
      id: expect.stringMatching(/^gateway-/),
      params: { message: "Your name?" },
    });
    const answered = await postOnSession(gateway, sessionId, {
      jsonrpc: "2.0",
      id: question.id,
      result: { action: "accept", content: { name: "Ada" } },
    });
    expect(answered.status).toBe(202);
    expect((await nextMessage()).result?.content[0]?.text).toBe('accept: {"name":"Ada"}');
  });

  it("refuses an upstream's elicitation when the agent reads no event stream, so the call ends", async () => {
    const sessionId = await openSession(gateway, undefined, { elicitation: {} });
    const res = await postOnSession(
      gateway,
      sessionId,
      {
        jsonrpc: "2.0",
        id: ++nextId,
        method: "tools/call",
        params: { name: "github__ask_client", arguments: { question: "?" } },
      },
      { Accept: "application/json" },
    );
    expect(((await res.json()) as { result: { isError?: boolean } }).result.isError).toBe(true);
  });

  it("answers with the result alone in JSON when the client does not take an event stream", async () => {
    const sessionId = await openSession(gateway);
    const res = await postOnSession(
      gateway,
      sessionId,
      {
        jsonrpc: "2.0",
        id: ++nextId,
        method: "tools/call",
        params: { name: "github__report", arguments: { steps: 1 } },
      },
      { Accept: "application/json" },
    );
    expect(res.headers.get("Content-Type")).toBe("application/json");
    expect(((await res.json()) as { result: unknown }).result).toEqual({
      content: [{ type: "text", text: "done in 1 steps" }],
    });
  });

  it("passes logging/setLevel on to the upstreams that offer logging", async () => {
    const sessionId = await openSession(gateway);
    const res = await postOnSession(gateway, sessionId, {
      jsonrpc: "2.0",
      id: ++nextId,
      method: "logging/setLevel",
      params: { level: "debug" },
    });
    expect(await res.json()).toMatchObject({ result: {} });
    expect(upstream.requests.filter((r) => r.rpcMethod === "logging/setLevel").at(-1)?.params).toEqual({
      level: "debug",
    });
  });

  it("routes completion/complete by the prompt's namespace, and refuses a reference no app owns", async () => {
    const sessionId = await openSession(gateway);
    const complete = async (ref: Record<string, unknown>) =>
      (await (
        await postOnSession(gateway, sessionId, {
          jsonrpc: "2.0",
          id: ++nextId,
          method: "completion/complete",
          params: { ref, argument: { name: "name", value: "A" } },
        })
      ).json()) as {
        result?: { completion: { values: string[] } };
        error?: { code: number };
      };
    expect((await complete({ type: "ref/prompt", name: "github__greet" })).result?.completion.values).toEqual(
      expect.any(Array),
    );
    expect((await complete({ type: "ref/prompt", name: "nowhere__greet" })).error?.code).toBe(-32602);
  });
});

describe("prompts and resources of an MCP Proxy app", () => {
  async function rpc(sessionId: string, method: string, params: Record<string, unknown> = {}) {
    const res = await postOnSession(gateway, sessionId, { jsonrpc: "2.0", id: ++nextId, method, params });
    return (await res.json()) as { result?: Record<string, unknown>; error?: { code: number } };
  }

  it("advertises prompts and resources, lists them namespaced, and forwards get and read to the upstream", async () => {
    const init = await postMcp(gateway, initializeRequest());
    expect(
      ((await init.json()) as { result: { capabilities: Record<string, unknown> } }).result.capabilities,
    ).toMatchObject({ tools: {}, prompts: {}, resources: {} });

    const sessionId = await openSession(gateway);
    const prompts = (await rpc(sessionId, "prompts/list")).result!.prompts as { name: string }[];
    expect(prompts.map((p) => p.name)).toContain("github__greet");
    const prompt = await rpc(sessionId, "prompts/get", { name: "github__greet", arguments: { name: "Ada" } });
    expect(JSON.stringify(prompt.result)).toContain("Ada");

    const resources = (await rpc(sessionId, "resources/list")).result!.resources as { uri: string; name: string }[];
    const readme = resources.find((r) => r.uri === "thing://readme")!;
    expect(readme.name).toMatch(/^github__/);
    const read = await rpc(sessionId, "resources/read", { uri: "thing://readme" });
    expect(read.result?.contents).toEqual([expect.objectContaining({ uri: "thing://readme" })]);
    expect(lastUpstreamRead().authorization).toMatch(/^Bearer /);
  });

  it("passes resources/subscribe and resources/unsubscribe to the app that listed the URI", async () => {
    const sessionId = await openSession(gateway);
    await rpc(sessionId, "resources/list");
    expect((await rpc(sessionId, "resources/subscribe", { uri: "thing://readme" })).result).toEqual({});
    expect((await rpc(sessionId, "resources/unsubscribe", { uri: "thing://readme" })).result).toEqual({});
    expect(
      upstream.requests
        .filter(
          (r) => r.rpcMethod?.startsWith("resources/") && (r.params as { uri?: string })?.uri === "thing://readme",
        )
        .map((r) => r.rpcMethod),
    ).toEqual(expect.arrayContaining(["resources/subscribe", "resources/unsubscribe"]));
    expect((await rpc(sessionId, "resources/subscribe", { uri: "thing://nope" })).error?.code).toBe(-32602);
  });

  it("answers an unknown prompt or resource with -32602", async () => {
    const sessionId = await openSession(gateway);
    expect((await rpc(sessionId, "prompts/get", { name: "github__nope" })).error?.code).toBe(-32602);
    expect((await rpc(sessionId, "prompts/get", { name: "crm__anything" })).error?.code).toBe(-32602);
    expect((await rpc(sessionId, "resources/read", { uri: "thing://nope" })).error?.code).toBe(-32602);
  });
});

function lastUpstreamRead() {
  return upstream.requests.filter((r) => r.rpcMethod === "resources/read").at(-1)!;
}
