// The MCP Proxy app against real upstream MCP servers: one built with the MCP SDK that records
// what the gateway sends, and the reference "everything" server run with its own CLI.
import type { RequestListener } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AppCallContext, AppSessionState } from "../../src/gateway/apps/app.js";
import { McpProxyApp, UPSTREAM_SESSION_KEY } from "../../src/gateway/apps/mcp-proxy.js";
import { MAX_ANSWER_BYTES } from "../../src/gateway/apps/streamable-http-client.js";
import { UpstreamError, UpstreamJsonRpcError } from "../../src/gateway/apps/upstream-error.js";
import { mcpProxyAppSchema } from "../../src/gateway/apps-schema.js";
import {
  startEverythingServer,
  startPlainHttpServer,
  startRecordingMcpServer,
  unreachableUrl,
  type EverythingServer,
  type PlainHttpServer,
  type RecordedRequest,
  type RecordingMcpServer,
} from "../helpers/upstream-mcp.js";

/** Session state as the session Durable Object keeps it: JSON, no shared references. */
function storedState(initial: Record<string, unknown> = {}): AppSessionState {
  let values = structuredClone(initial);
  return {
    get: () => values,
    set: async (patch) => {
      values = { ...values, ...JSON.parse(JSON.stringify(patch)) };
    },
  };
}

function proxyApp(url: string, timeout = "5s"): McpProxyApp {
  return new McpProxyApp(
    mcpProxyAppSchema.parse({ name: "tracker", type: "mcpProxy", upstream: { stream: { url } }, timeout }),
  );
}

function context(state: AppSessionState, overrides: Partial<AppCallContext> = {}): AppCallContext {
  return { token: "exchanged-token", state, signal: new AbortController().signal, ...overrides };
}

function upstreamSessionId(state: AppSessionState): string {
  return (state.get()[UPSTREAM_SESSION_KEY] as { sessionId: string }).sessionId;
}

const INITIALIZE_RESULT = {
  protocolVersion: "2025-11-25",
  capabilities: { tools: {} },
  serverInfo: { name: "scripted", version: "1" },
};

/** Plain servers a test started, closed after it. */
const started: PlainHttpServer[] = [];
afterEach(() => Promise.all(started.splice(0).map((server) => server.close())));

async function plainUpstream(listener: RequestListener): Promise<PlainHttpServer> {
  const server = await startPlainHttpServer(listener);
  started.push(server);
  return server;
}

/**
 * A hand-written JSON-RPC upstream answering each request with `answerTo(method)` ({result} or
 * {error}): as a JSON body, or as an event stream with CRLF line ends, the message split over
 * several data lines and the writes split inside a CRLF ("sse"), or with lone CRs, the stream
 * ending right after the CR that ends the event ("sse-cr").
 */
function scriptedUpstream(
  answerTo: (method: string) => Record<string, unknown>,
  framing: "json" | "sse" | "sse-cr" = "json",
) {
  return plainUpstream(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const message = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id?: string; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    const answer = JSON.stringify({ jsonrpc: "2.0", id: message.id, ...answerTo(message.method) }, null, 1);
    if (framing === "json") return void res.writeHead(200, { "Content-Type": "application/json" }).end(answer);
    res.writeHead(200, { "Content-Type": "text/event-stream" });
    if (framing === "sse-cr")
      return void res.end(
        `event: other\rdata: {}\r\r${answer
          .split("\n")
          .map((line) => `data: ${line}`)
          .join("\r")}\r\r`,
      );
    res.write(": comment\r\nid: 1\r\ndata:\r\n\r\nevent: message\r");
    res.end(
      `\n${answer
        .split("\n")
        .map((line) => `data: ${line}`)
        .join("\r\n")}\r\n\r\n`,
    );
  });
}

describe("MCP Proxy app", () => {
  let upstream: RecordingMcpServer;
  /** What the upstream received since the test began. */
  let received: () => RecordedRequest[];

  beforeAll(async () => {
    upstream = await startRecordingMcpServer({ pageSize: 3 });
  });
  afterAll(() => upstream?.close());

  function recordFrom() {
    const start = upstream.requests.length;
    received = () => upstream.requests.slice(start);
  }

  describe("tools", () => {
    it("lists every tool, following nextCursor through all pages", async () => {
      recordFrom();
      const tools = await proxyApp(upstream.url).listTools(context(storedState()));
      expect(tools.map((tool) => tool.name)).toEqual([
        "echo",
        "add",
        "fail",
        "slow",
        "list_things",
        "create_issue",
        "report",
        "ask_client",
        "ping_client",
      ]);
      expect(tools.find((tool) => tool.name === "add")?.outputSchema).toMatchObject({
        properties: { sum: { type: "number" } },
      });
      const pages = received().filter((r) => r.rpcMethod === "tools/list");
      expect(pages.map((r) => (r.params as { cursor?: string } | undefined)?.cursor)).toEqual([undefined, "3", "6"]);
    });

    it("returns the upstream's result unchanged, structuredContent included", async () => {
      const outcome = await proxyApp(upstream.url).callTool("add", { a: 2, b: 3 }, context(storedState()));
      expect(outcome).toEqual({
        result: { content: [{ type: "text", text: "5" }], structuredContent: { sum: 5 } },
        upstreamStatus: 200,
      });
    });

    it("passes _meta and isError through", async () => {
      const app = proxyApp(upstream.url);
      const state = storedState();
      expect((await app.callTool("list_things", {}, context(state))).result).toEqual({
        content: [{ type: "text", text: "apple, pear" }],
        _meta: { "test.example/page": 1 },
      });
      expect((await app.callTool("fail", {}, context(state))).result).toEqual({
        isError: true,
        content: [{ type: "text", text: "the tool failed on purpose" }],
      });
    });

    it("turns the upstream's JSON-RPC error for a call into a tool error result", async () => {
      // McpServer answers an unknown tool with a tool error result; this upstream, like others, with a JSON-RPC error.
      const strict = await scriptedUpstream((method) =>
        method === "initialize"
          ? { result: INITIALIZE_RESULT }
          : { error: { code: -32602, message: "Unknown tool: no_such_tool" } },
      );
      const outcome = await proxyApp(strict.url).callTool("no_such_tool", {}, context(storedState()));
      expect(outcome).toEqual({
        result: {
          isError: true,
          content: [{ type: "text", text: "upstream error -32602: Unknown tool: no_such_tool" }],
        },
        upstreamStatus: 200,
      });
    });
  });

  describe("outbound headers", () => {
    it("sends exactly `Bearer <token>` of each call, also when calls with different tokens overlap", async () => {
      recordFrom();
      const app = proxyApp(upstream.url);
      const state = storedState();
      const tokens = ["token-a", "token-b", "token-c", "token-d"];
      await Promise.all(tokens.map((token) => app.callTool("echo", { text: token }, context(state, { token }))));
      const calls = received().filter((r) => r.rpcMethod === "tools/call");
      expect(calls).toHaveLength(tokens.length);
      for (const call of calls) {
        expect(call.authorization).toBe(`Bearer ${(call.params as { arguments: { text: string } }).arguments.text}`);
      }
    });

    it("sends no Authorization header when the call has no token", async () => {
      recordFrom();
      await proxyApp(upstream.url).callTool("echo", { text: "hi" }, context(storedState(), { token: undefined }));
      expect(received().length).toBeGreaterThan(0);
      for (const request of received()) expect(request.authorization).toBeUndefined();
    });

    it("propagates traceparent", async () => {
      recordFrom();
      const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
      await proxyApp(upstream.url).callTool("echo", { text: "hi" }, context(storedState(), { traceparent }));
      expect(received().find((r) => r.rpcMethod === "tools/call")?.traceparent).toBe(traceparent);
    });
  });

  describe("upstream session", () => {
    it("initializes once, then sends the session id and negotiated protocol version", async () => {
      recordFrom();
      const app = proxyApp(upstream.url);
      const state = storedState();
      await app.listTools(context(state));
      await app.callTool("echo", { text: "again" }, context(state));
      const sessionId = upstreamSessionId(state);
      expect(state.get()[UPSTREAM_SESSION_KEY]).toMatchObject({ sessionId, protocolVersion: "2025-11-25" });
      const [initialize, ...rest] = received();
      expect(initialize?.rpcMethod).toBe("initialize");
      expect(rest.map((r) => r.rpcMethod)).toEqual([
        "notifications/initialized",
        "tools/list",
        "tools/list",
        "tools/list",
        "tools/call",
      ]);
      for (const request of rest) expect(request).toMatchObject({ sessionId, protocolVersion: "2025-11-25" });
    });

    it("shares one initialize among a session's concurrent first calls", async () => {
      recordFrom();
      const app = proxyApp(upstream.url);
      const state = storedState();
      await Promise.all([1, 2, 3].map((n) => app.callTool("echo", { text: String(n) }, context(state))));
      expect(received().filter((r) => r.rpcMethod === "initialize")).toHaveLength(1);
    });

    it("resumes the session in a fresh instance given the stored state, without initializing again", async () => {
      const state = storedState();
      await proxyApp(upstream.url).listTools(context(state));
      recordFrom();
      // A new process: a new app instance, the state as reloaded from storage.
      const restored = storedState(state.get());
      const outcome = await proxyApp(upstream.url).callTool("echo", { text: "resumed" }, context(restored));
      expect(outcome.result.content).toEqual([{ type: "text", text: "resumed" }]);
      expect(received().map((r) => [r.rpcMethod, r.sessionId])).toEqual([["tools/call", upstreamSessionId(state)]]);
    });

    it("starts a new upstream session when the upstream has forgotten the old one", async () => {
      const app = proxyApp(upstream.url);
      const state = storedState();
      await app.callTool("echo", { text: "before" }, context(state));
      const before = upstreamSessionId(state);
      await upstream.restart();
      recordFrom();
      const outcome = await app.callTool("echo", { text: "after" }, context(state));
      expect(outcome.result.content).toEqual([{ type: "text", text: "after" }]);
      expect(received().map((r) => r.rpcMethod)).toEqual([
        "tools/call",
        "initialize",
        "notifications/initialized",
        "tools/call",
      ]);
      expect(upstreamSessionId(state)).not.toBe(before);
    });

    it("reads event streams with CRLF line ends and multi-line data", async () => {
      const crlf = await scriptedUpstream(
        (method) => ({
          result:
            method === "initialize" ? INITIALIZE_RESULT : { tools: [{ name: "t", inputSchema: { type: "object" } }] },
        }),
        "sse",
      );
      expect(await proxyApp(crlf.url).listTools(context(storedState()))).toEqual([
        { name: "t", inputSchema: { type: "object" } },
      ]);
    });

    it("reads event streams with CR line ends that end right after the last event, and skips events of other types", async () => {
      const cr = await scriptedUpstream(
        (method) => ({
          result:
            method === "initialize" ? INITIALIZE_RESULT : { tools: [{ name: "t", inputSchema: { type: "object" } }] },
        }),
        "sse-cr",
      );
      expect(await proxyApp(cr.url).listTools(context(storedState()))).toEqual([
        { name: "t", inputSchema: { type: "object" } },
      ]);
    });

    it("answers the upstream's ping during a call, so the call completes", async () => {
      recordFrom();
      const outcome = await proxyApp(upstream.url).callTool("ping_client", {}, context(storedState(), { token: "t" }));
      expect(outcome.result.content).toEqual([{ type: "text", text: "the client answered ping" }]);
      expect(received().find((r) => r.rpcMethod === "(response)")?.authorization).toBe("Bearer t");
    });

    it("reports notifications/tools/list_changed sent on a response stream", async () => {
      const changes: string[] = [];
      const app = proxyApp(upstream.url);
      const state = storedState();
      await app.listTools(context(state));
      upstream.announceToolListChange();
      await app.callTool(
        "echo",
        { text: "hi" },
        context(state, { events: { listChanged: (list) => changes.push(list) } }),
      );
      expect(changes).toEqual(["tools"]);
    });
  });

  describe("prompts and resources", () => {
    it("lists and gets prompts", async () => {
      const app = proxyApp(upstream.url);
      const state = storedState();
      expect((await app.listPrompts(context(state))).map((prompt) => prompt.name)).toEqual(["greet"]);
      expect(await app.getPrompt("greet", { name: "Ada" }, context(state))).toEqual({
        messages: [{ role: "user", content: { type: "text", text: "Say hello to Ada." } }],
      });
    });

    it("lists resources and templates, and reads them", async () => {
      const app = proxyApp(upstream.url);
      const state = storedState();
      expect(await app.listResources(context(state))).toEqual([
        { uri: "thing://readme", name: "readme", mimeType: "text/plain" },
      ]);
      expect(await app.listResourceTemplates(context(state))).toEqual([
        { uriTemplate: "thing://items/{id}", name: "item", mimeType: "text/plain" },
      ]);
      expect(await app.readResource("thing://items/7", context(state))).toEqual({
        contents: [{ uri: "thing://items/7", mimeType: "text/plain", text: "item 7" }],
      });
    });

    it("keeps the code of the upstream's JSON-RPC error for an unknown resource", async () => {
      const reading = proxyApp(upstream.url).readResource("thing://nothing", context(storedState()));
      await expect(reading).rejects.toBeInstanceOf(UpstreamJsonRpcError);
      await expect(reading).rejects.toMatchObject({ app: "tracker", code: -32602, upstreamStatus: 200 });
    });
  });

  describe("failures", () => {
    it("reports an unreachable upstream", async () => {
      const calling = proxyApp(await unreachableUrl()).callTool(
        "echo",
        { text: "x" },
        context(storedState(), { token: "secret-token" }),
      );
      await expect(calling).rejects.toBeInstanceOf(UpstreamError);
      await expect(calling).rejects.toThrow(
        /^upstream http:\/\/127\.0\.0\.1:\d+\/mcp is unreachable: fetch failed \(ECONNREFUSED\)$/,
      );
    });

    it("reports the timeout when the upstream is too slow", async () => {
      const calling = proxyApp(upstream.url, "200ms").callTool(
        "slow",
        { ms: 20_000 },
        // The session's call context aborts at the app's timeout (AppCallContext.signal).
        context(storedState(), { signal: AbortSignal.timeout(200) }),
      );
      await expect(calling).rejects.toBeInstanceOf(UpstreamError);
      await expect(calling).rejects.toThrow("upstream did not answer within the timeout of 200 ms");
    });

    it.each([
      [
        "plain text",
        "text/plain",
        "hello",
        /Content-Type text\/plain instead of application\/json or text\/event-stream/,
      ],
      ["JSON that is not JSON-RPC", "application/json", '{"hello":"world"}', /JSON that is not a JSON-RPC response/],
      ["a body that is not JSON", "application/json", "{", /a body that is not JSON/],
      [
        "an event that is not JSON",
        "text/event-stream",
        "event: message\ndata: hello\n\n",
        /an event that is not JSON/,
      ],
      ["a stream without the response", "text/event-stream", ": nothing here\n\n", /ended before the response/],
    ])("reports an upstream answering %s", async (_what, contentType, body, message) => {
      const garbage = await plainUpstream((_req, res) => res.writeHead(200, { "Content-Type": contentType }).end(body));
      const listing = proxyApp(garbage.url).listTools(context(storedState()));
      await expect(listing).rejects.toBeInstanceOf(UpstreamError);
      await expect(listing).rejects.toThrow(message);
    });

    it.each([
      ["a JSON body", "application/json", "x"],
      ["an event stream", "text/event-stream", ":"],
    ])("refuses %s larger than the ceiling", async (_what, contentType, filler) => {
      const huge = await plainUpstream((_req, res) =>
        res.writeHead(200, { "Content-Type": contentType }).end(filler.repeat(MAX_ANSWER_BYTES + 1)),
      );
      await expect(proxyApp(huge.url).listTools(context(storedState()))).rejects.toThrow(
        `upstream answered with more than ${MAX_ANSWER_BYTES} bytes`,
      );
    });

    it("reports a JSON-RPC error whose id the upstream could not read", async () => {
      const confused = await scriptedUpstream((method) =>
        method === "initialize"
          ? { result: INITIALIZE_RESULT }
          : { id: null, error: { code: -32700, message: "Parse error" } },
      );
      await expect(proxyApp(confused.url).listTools(context(storedState()))).rejects.toMatchObject({
        code: -32700,
        message: "upstream error -32700: Parse error",
      });
    });

    it("reports a result of the wrong shape", async () => {
      const wrong = await scriptedUpstream((method) => ({
        result: method === "initialize" ? INITIALIZE_RESULT : { tools: [{ name: 42 }] },
      }));
      await expect(proxyApp(wrong.url).listTools(context(storedState()))).rejects.toThrow(
        "upstream answered tools/list with a result of the wrong shape at tools.0.name",
      );
    });

    it("refuses an upstream that speaks a protocol version the gateway does not", async () => {
      const old = await scriptedUpstream(() => ({ result: { ...INITIALIZE_RESULT, protocolVersion: "2024-11-05" } }));
      await expect(proxyApp(old.url).listTools(context(storedState()))).rejects.toThrow(
        "upstream speaks MCP 2024-11-05, which the gateway does not support",
      );
    });

    it("reports an HTTP error status with its reason, and never repeats the token", async () => {
      const echoing = await plainUpstream((req, res) => {
        res.writeHead(503, { "Content-Type": "text/plain" }).end(`unavailable for ${req.headers.authorization}`);
      });
      const calling = proxyApp(echoing.url).callTool(
        "echo",
        { text: "x" },
        context(storedState(), { token: "secret-token" }),
      );
      await expect(calling).rejects.toMatchObject({
        upstreamStatus: 503,
        message: "upstream answered HTTP 503: unavailable for Bearer [redacted]",
      });
    });
  });

  describe("JSON responses", () => {
    let jsonUpstream: RecordingMcpServer;
    beforeAll(async () => {
      jsonUpstream = await startRecordingMcpServer({ jsonResponse: true });
    });
    afterAll(() => jsonUpstream?.close());

    it("works with an upstream that answers application/json", async () => {
      const app = proxyApp(jsonUpstream.url);
      const state = storedState();
      expect(await app.listTools(context(state))).toHaveLength(9);
      expect((await app.callTool("add", { a: 1, b: 1 }, context(state))).result).toEqual({
        content: [{ type: "text", text: "2" }],
        structuredContent: { sum: 2 },
      });
    });
  });
});

describe("MCP Proxy app with the reference everything server", () => {
  let everything: EverythingServer;
  beforeAll(async () => {
    everything = await startEverythingServer();
  });
  afterAll(() => everything?.close());

  it("lists its tools, prompts and resources", async () => {
    const app = proxyApp(everything.url);
    const state = storedState();
    expect((await app.listTools(context(state))).map((tool) => tool.name)).toEqual(
      expect.arrayContaining(["echo", "get-sum"]),
    );
    expect((await app.listPrompts(context(state))).length).toBeGreaterThan(0);
    expect((await app.listResources(context(state))).length).toBeGreaterThan(0);
  });

  it("calls echo", async () => {
    const outcome = await proxyApp(everything.url).callTool("echo", { message: "hello" }, context(storedState()));
    expect(outcome).toEqual({ result: { content: [{ type: "text", text: "Echo: hello" }] }, upstreamStatus: 200 });
  });
});
