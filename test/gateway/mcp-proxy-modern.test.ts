// The MCP Proxy app against upstreams of the 2026-07-28 era: a real server built with the v2 SDK
// (@modelcontextprotocol/server), whose tools ask for input through `input_required` results, and
// hand-written upstreams for what a real one does not do (refuse the modern era, answer 401). The
// app is driven in-process, as the session drives it; the relay to the agent is the session's own.
import type { RequestListener } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AppCallContext, AppSessionState } from "../../src/gateway/apps/app.js";
import { MAX_REQUESTS } from "../../src/gateway/apps/input-required.js";
import { McpProxyApp, UPSTREAM_SESSION_KEY } from "../../src/gateway/apps/mcp-proxy.js";
import type { RelayedAnswer, ServerRequestRelay } from "../../src/gateway/apps/streamable-http-client.js";
import { UpstreamError } from "../../src/gateway/apps/upstream-error.js";
import { mcpProxyAppSchema } from "../../src/gateway/apps-schema.js";
import type { JSONRPCMessage } from "../../src/gateway/mcp/messages.js";
import { RelayedRequests } from "../../src/gateway/session/relayed-requests.js";
import { startModernMcpServer, type ModernMcpServer } from "../helpers/modern-upstream-mcp.js";
import { startPlainHttpServer, startRecordingMcpServer, type PlainHttpServer } from "../helpers/upstream-mcp.js";

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

function proxyApp(url: string, options: { timeout?: string; upstreamProtocol?: string } = {}): McpProxyApp {
  return new McpProxyApp(
    mcpProxyAppSchema.parse({
      name: "modern",
      type: "mcpProxy",
      upstream: { stream: { url } },
      timeout: options.timeout ?? "5s",
      ...(options.upstreamProtocol ? { upstreamProtocol: options.upstreamProtocol } : {}),
    }),
  );
}

/** An agent that declared `capabilities` and reads an event stream, answering each relayed request with `answer`. */
function agent(
  capabilities: Record<string, unknown>,
  answer: (method: string, params: unknown) => RelayedAnswer | Promise<RelayedAnswer>,
) {
  const asked: { method: string; params: unknown }[] = [];
  const ask: ServerRequestRelay = async (method, params) => {
    asked.push({ method, params });
    return answer(method, params);
  };
  return { asked, overrides: { clientCapabilities: capabilities, events: { ask } } };
}

function context(state: AppSessionState, overrides: Partial<AppCallContext> = {}): AppCallContext {
  return { token: "exchanged-token", state, signal: new AbortController().signal, ...overrides };
}

const text = (outcome: { result: { content: unknown[] } }) => (outcome.result.content[0] as { text: string }).text;

describe("MCP Proxy app with a 2026-07-28 upstream", () => {
  let upstream: ModernMcpServer;
  beforeAll(async () => {
    upstream = await startModernMcpServer();
  });
  afterAll(() => upstream?.close());

  let start = 0;
  const received = () => upstream.requests.slice(start);
  const recordFrom = () => (start = upstream.requests.length);

  describe("era", () => {
    it("probes once per upstream with server/discover, then sends no initialize and no session id", async () => {
      const fresh = await startModernMcpServer();
      try {
        for (const state of [storedState(), storedState()]) {
          const app = proxyApp(fresh.url);
          await app.listTools(context(state));
          await app.callTool("echo", { text: "hi" }, context(state));
          expect(state.get()[UPSTREAM_SESSION_KEY]).toMatchObject({ protocolVersion: "2026-07-28" });
        }
        expect(fresh.requests.map((r) => r.rpcMethod)).toEqual([
          "server/discover",
          "tools/list",
          "tools/call",
          "tools/list",
          "tools/call",
        ]);
        for (const request of fresh.requests) expect(request.headers["mcp-session-id"]).toBeUndefined();
      } finally {
        await fresh.close();
      }
    });

    it("never probes when the era is configured 2026-07-28, and reads a missing list as empty", async () => {
      const fresh = await startModernMcpServer();
      try {
        const app = proxyApp(fresh.url, { upstreamProtocol: "2026-07-28" });
        const state = storedState();
        expect((await app.listPrompts(context(state))).map((p) => p.name)).toEqual(["greeting", "roots_prompt"]);
        expect(await app.listResources(context(state))).toEqual([]);
        expect(fresh.requests.map((r) => r.rpcMethod)).toEqual(["prompts/list", "resources/list"]);
      } finally {
        await fresh.close();
      }
    });

    it("never probes when the era is configured 2025-11-25, and initializes as before", async () => {
      const dual = await startModernMcpServer({ legacy: "stateless" });
      try {
        const app = proxyApp(dual.url, { upstreamProtocol: "2025-11-25" });
        const state = storedState();
        expect(text(await app.callTool("echo", { text: "old" }, context(state)))).toBe("old");
        expect(dual.requests.map((r) => r.rpcMethod)).toEqual([
          "initialize",
          "notifications/initialized",
          "tools/call",
        ]);
        expect(state.get()[UPSTREAM_SESSION_KEY]).toMatchObject({ protocolVersion: "2025-11-25" });
      } finally {
        await dual.close();
      }
    });

    it("speaks 2025-11-25 to a 2025 agent on a dual-era upstream it discovered as modern, and 2026-07-28 to a modern one", async () => {
      const dual = await startModernMcpServer({ legacy: "stateless" });
      try {
        const legacyState = storedState();
        const app = proxyApp(dual.url);
        expect(text(await app.callTool("echo", { text: "old" }, context(legacyState, { agentEra: "legacy" })))).toBe(
          "old",
        );
        expect(legacyState.get()[UPSTREAM_SESSION_KEY]).toMatchObject({ protocolVersion: "2025-11-25" });
        const second = storedState();
        await app.callTool("echo", { text: "again" }, context(second, { agentEra: "legacy" }));
        const modernState = storedState();
        await app.callTool("echo", { text: "new" }, context(modernState, { agentEra: "modern" }));
        expect(modernState.get()[UPSTREAM_SESSION_KEY]).toMatchObject({ protocolVersion: "2026-07-28" });
        expect(dual.requests.map((r) => r.rpcMethod)).toEqual([
          "server/discover",
          "initialize",
          "notifications/initialized",
          "tools/call",
          "initialize",
          "notifications/initialized",
          "tools/call",
          "tools/call",
        ]);
      } finally {
        await dual.close();
      }
    });

    it("tries initialize once per endpoint for 2025 agents on a modern-only upstream, then bridges them", async () => {
      const fresh = await startModernMcpServer();
      try {
        for (const state of [storedState(), storedState()]) {
          const app = proxyApp(fresh.url);
          expect(text(await app.callTool("echo", { text: "x" }, context(state, { agentEra: "legacy" })))).toBe("x");
          expect(state.get()[UPSTREAM_SESSION_KEY]).toMatchObject({ protocolVersion: "2026-07-28" });
        }
        expect(fresh.requests.map((r) => r.rpcMethod)).toEqual([
          "server/discover",
          "initialize",
          "tools/call",
          "tools/call",
        ]);
      } finally {
        await fresh.close();
      }
    });

    it("probes a legacy upstream once per endpoint, then initializes each session as before", async () => {
      const legacy = await startRecordingMcpServer();
      try {
        for (const state of [storedState(), storedState()])
          expect(text(await proxyApp(legacy.url).callTool("echo", { text: "x" }, context(state)))).toBe("x");
        expect(legacy.requests.map((r) => r.rpcMethod)).toEqual([
          "server/discover",
          "initialize",
          "notifications/initialized",
          "tools/call",
          "initialize",
          "notifications/initialized",
          "tools/call",
        ]);
      } finally {
        await legacy.close();
      }
    });
  });

  describe("requests", () => {
    it("carries the _meta envelope, MCP-Protocol-Version, Mcp-Method and Mcp-Name on every request", async () => {
      const state = storedState();
      const app = proxyApp(upstream.url);
      await app.listTools(context(state));
      recordFrom();
      await app.callTool("echo", { text: "hi" }, context(state));
      await app.getPrompt("greeting", { name: "Ada" }, context(state));
      const [call, get] = received();
      for (const [request, method, name] of [
        [call, "tools/call", "echo"],
        [get, "prompts/get", "greeting"],
      ] as const) {
        expect(request?.headers).toMatchObject({
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": method,
          "mcp-name": name,
          authorization: "Bearer exchanged-token",
        });
        expect(request?.params?._meta).toEqual({
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientInfo": expect.objectContaining({ name: "ai-identity-gateway" }),
          "io.modelcontextprotocol/clientCapabilities": {},
        });
      }
    });

    it("declares only what it can relay to this agent, and an agent's _meta cannot replace the envelope", async () => {
      const state = storedState();
      const app = proxyApp(upstream.url);
      await app.listTools(context(state));
      const { overrides } = agent({ elicitation: {}, sampling: {}, experimental: { x: {} } }, () => ({ result: {} }));
      recordFrom();
      await app.callTool("echo", { text: "a" }, context(state, overrides));
      await app.callTool(
        "echo",
        { text: "b" },
        context(state, {
          clientCapabilities: { elicitation: {} }, // declared, but this request has no stream to ask on
          meta: {
            progressToken: "p-1",
            "io.modelcontextprotocol/clientCapabilities": { sampling: {} },
            "io.modelcontextprotocol/logLevel": "debug",
          },
        }),
      );
      const [withStream, withoutStream] = received().map((r) => r.params?._meta as Record<string, unknown>);
      expect(withStream?.["io.modelcontextprotocol/clientCapabilities"]).toEqual({ elicitation: {}, sampling: {} });
      expect(withoutStream).toEqual({
        progressToken: "p-1",
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": expect.objectContaining({ name: "ai-identity-gateway" }),
        "io.modelcontextprotocol/clientCapabilities": {},
      });
    });

    it("sends the agent's log level in the _meta of later requests, as the modern era has no logging/setLevel", async () => {
      const app = proxyApp(upstream.url, { upstreamProtocol: "2026-07-28" });
      const state = storedState();
      await app.setLoggingLevel("warning", context(state));
      recordFrom();
      await app.callTool("echo", { text: "log" }, context(state));
      expect(received().map((r) => r.rpcMethod)).toEqual(["tools/call"]);
      expect(received()[0]?.params?._meta).toMatchObject({ "io.modelcontextprotocol/logLevel": "warning" });
    });

    it("passes results on without the modern envelope (resultType, cache hints), _meta kept", async () => {
      const outcome = await proxyApp(upstream.url).callTool("echo", { text: "plain" }, context(storedState()));
      expect(outcome.result).toEqual({
        content: [{ type: "text", text: "plain" }],
        _meta: { "io.modelcontextprotocol/serverInfo": { name: "modern-upstream", version: "1.0.0" } },
      });
    });

    it("mirrors x-mcp-header parameters into Mcp-Param headers, Base64 where a value is not plain ASCII", async () => {
      const state = storedState();
      const app = proxyApp(upstream.url);
      await app.listTools(context(state));
      recordFrom();
      expect(text(await app.callTool("in_region", { region: "eu-west-1" }, context(state)))).toBe("ran in eu-west-1");
      expect(text(await app.callTool("in_region", { region: "Zürich" }, context(state)))).toBe("ran in Zürich");
      expect(received().map((r) => r.headers["mcp-param-region"])).toEqual([
        "eu-west-1",
        `=?base64?${Buffer.from("Zürich").toString("base64")}?=`,
      ]);
    });

    it("leaves out a tool whose x-mcp-header annotation is invalid", async () => {
      const names = (await proxyApp(upstream.url).listTools(context(storedState()))).map((t) => t.name);
      expect(names).toContain("in_region");
      expect(names).not.toContain("bad_header");
    });

    it("learns a tool's header parameters with one tools/list when the upstream answers HeaderMismatch", async () => {
      // A fresh instance, as in a new isolate: it has not listed the tools, so it sends no Mcp-Param header.
      const fresh = await startModernMcpServer();
      try {
        const app = proxyApp(fresh.url, { upstreamProtocol: "2026-07-28" });
        expect(text(await app.callTool("in_region", { region: "us" }, context(storedState())))).toBe("ran in us");
        expect(fresh.requests.map((r) => [r.rpcMethod, r.headers["mcp-param-region"]])).toEqual([
          ["tools/call", undefined],
          ["tools/list", undefined],
          ["tools/call", "us"],
        ]);
      } finally {
        await fresh.close();
      }
    });
  });

  describe("input_required, bridged to the agent", () => {
    it("relays the upstream's elicitation to the agent and retries with its answer and the request state unchanged", async () => {
      const { asked, overrides } = agent({ elicitation: {} }, () => ({
        result: { action: "accept", content: { name: "Ada" } },
      }));
      recordFrom();
      const outcome = await proxyApp(upstream.url).callTool("ask_name", {}, context(storedState(), overrides));
      expect(text(outcome)).toBe('accept: {"name":"Ada"}');
      expect(asked).toEqual([
        {
          method: "elicitation/create",
          params: expect.objectContaining({ message: "Your name?", requestedSchema: expect.any(Object) }),
        },
      ]);
      const calls = received().filter((r) => r.rpcMethod === "tools/call");
      expect(calls).toHaveLength(2);
      expect(calls[0]?.params).not.toHaveProperty("requestState");
      expect(calls[1]?.params).toMatchObject({
        name: "ask_name",
        inputResponses: { who: { action: "accept", content: { name: "Ada" } } },
        requestState: expect.stringMatching(/^opaque\+\/=/),
      });
      // The upstream accepted the echoed state as one it minted (and only once).
      expect(upstream.mintedStates.size).toBe(0);
    });

    it("relays a sampling request the same way", async () => {
      const { overrides } = agent({ sampling: {} }, () => ({
        result: { role: "assistant", content: { type: "text", text: "4" }, model: "test-model" },
      }));
      const outcome = await proxyApp(upstream.url).callTool("sample", {}, context(storedState(), overrides));
      expect(text(outcome)).toBe('model said {"type":"text","text":"4"}');
    });

    it("passes on the upstream's MissingRequiredClientCapability when the agent did not declare elicitation", async () => {
      const { asked, overrides } = agent({ sampling: {} }, () => ({ result: {} }));
      const outcome = await proxyApp(upstream.url).callTool("ask_name", {}, context(storedState(), overrides));
      expect(outcome.result.isError).toBe(true);
      expect(text(outcome)).toMatch(/^upstream error -32021: /);
      expect(asked).toEqual([]);
    });

    it("bridges input_required on prompts/get too (roots/list)", async () => {
      const { asked, overrides } = agent({ roots: {} }, () => ({ result: { roots: [{ uri: "file:///work" }] } }));
      const prompt = await proxyApp(upstream.url).getPrompt("roots_prompt", {}, context(storedState(), overrides));
      expect(prompt.messages).toEqual([{ role: "user", content: { type: "text", text: "roots: file:///work" } }]);
      expect(asked.map((a) => a.method)).toEqual(["roots/list"]);
    });

    it("keeps the code of MissingRequiredClientCapability for prompts/get", async () => {
      const getting = proxyApp(upstream.url).getPrompt("roots_prompt", {}, context(storedState()));
      await expect(getting).rejects.toMatchObject({ code: -32021 });
    });

    it(`ends the call after ${MAX_REQUESTS} requests when the upstream asks for input forever`, async () => {
      const { asked, overrides } = agent({ elicitation: {} }, () => ({ result: { action: "accept", content: {} } }));
      recordFrom();
      const calling = proxyApp(upstream.url).callTool("ask_forever", {}, context(storedState(), overrides));
      await expect(calling).rejects.toThrow(
        `upstream still asked for input after ${MAX_REQUESTS} requests of tools/call; the gateway gave up`,
      );
      expect(received().filter((r) => r.rpcMethod === "tools/call")).toHaveLength(MAX_REQUESTS);
      expect(asked).toHaveLength(MAX_REQUESTS - 1);
    });

    it("ends the call at the app's timeout when the agent never answers", async () => {
      const relayed = new RelayedRequests();
      const sent: JSONRPCMessage[] = [];
      const ask: ServerRequestRelay = (method, params, signal) =>
        relayed.ask((message) => sent.push(message), method, params, signal);
      const calling = proxyApp(upstream.url, { timeout: "300ms" }).callTool(
        "ask_name",
        {},
        // The session's call context aborts at the app's timeout (AppCallContext.signal).
        context(storedState(), {
          clientCapabilities: { elicitation: {} },
          events: { ask },
          signal: AbortSignal.timeout(300),
        }),
      );
      await expect(calling).rejects.toBeInstanceOf(UpstreamError);
      await expect(calling).rejects.toThrow("the agent did not answer elicitation/create within the timeout of 300 ms");
      expect(sent).toEqual([
        expect.objectContaining({ method: "elicitation/create", id: expect.stringMatching(/^gateway-/) }),
      ]);
    });

    it("passes the agent's refusal on as the call's error", async () => {
      const { overrides } = agent({ elicitation: {} }, () => ({
        error: { code: -1, message: "user closed the dialog" },
      }));
      await expect(proxyApp(upstream.url).callTool("ask_name", {}, context(storedState(), overrides))).rejects.toThrow(
        "the agent refused elicitation/create: user closed the dialog",
      );
    });
  });

  describe("failures", () => {
    it("reports the timeout when the upstream hangs", async () => {
      const calling = proxyApp(upstream.url, { timeout: "300ms" }).callTool(
        "hang",
        {},
        context(storedState(), { signal: AbortSignal.timeout(300) }),
      );
      await expect(calling).rejects.toBeInstanceOf(UpstreamError);
      await expect(calling).rejects.toThrow("upstream did not answer within the timeout of 300 ms");
    });
  });
});

describe("MCP Proxy app with upstreams that answer the modern era in their own ways", () => {
  const started: PlainHttpServer[] = [];
  afterEach(() => Promise.all(started.splice(0).map((server) => server.close())));
  async function plainUpstream(listener: RequestListener): Promise<PlainHttpServer> {
    const server = await startPlainHttpServer(listener);
    started.push(server);
    return server;
  }

  it("falls back to initialize, once, when the upstream refuses 2026-07-28 with UnsupportedProtocolVersion", async () => {
    const seen: [string | undefined, string][] = [];
    const legacyOnly = await plainUpstream(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const message = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id?: string; method: string };
      const version = req.headers["mcp-protocol-version"] as string | undefined;
      seen.push([version, message.method]);
      const json = (status: number, body: unknown) =>
        res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
      if (version === "2026-07-28")
        return json(400, {
          jsonrpc: "2.0",
          id: message.id,
          error: {
            code: -32022,
            message: "Unsupported protocol version",
            data: { supported: ["2025-11-25"], requested: "2026-07-28" },
          },
        });
      if (message.id === undefined) return void res.writeHead(202).end();
      if (message.method === "initialize")
        return json(200, {
          jsonrpc: "2.0",
          id: message.id,
          result: {
            protocolVersion: "2025-11-25",
            capabilities: { tools: {} },
            serverInfo: { name: "old", version: "1" },
          },
        });
      return json(200, {
        jsonrpc: "2.0",
        id: message.id,
        result: { tools: [{ name: "t", inputSchema: { type: "object" } }] },
      });
    });
    const app = proxyApp(legacyOnly.url, { upstreamProtocol: "2026-07-28" });
    const state = storedState();
    expect(await app.listTools(context(state))).toEqual([{ name: "t", inputSchema: { type: "object" } }]);
    expect(await app.listTools(context(state))).toHaveLength(1);
    expect(seen).toEqual([
      ["2026-07-28", "tools/list"],
      [undefined, "initialize"],
      ["2025-11-25", "notifications/initialized"],
      ["2025-11-25", "tools/list"],
      ["2025-11-25", "tools/list"],
    ]);
  });

  it("asks the agent nothing it did not declare, even when the upstream asks anyway: MissingRequiredClientCapability", async () => {
    let calls = 0;
    const pushy = await plainUpstream(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const message = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id?: string };
      calls++;
      res.writeHead(200, { "Content-Type": "application/json" }).end(
        JSON.stringify({
          jsonrpc: "2.0",
          id: message.id,
          result: {
            resultType: "input_required",
            inputRequests: {
              where: {
                method: "elicitation/create",
                params: { mode: "url", url: "https://x.test", message: "Sign in" },
              },
            },
          },
        }),
      );
    });
    const { asked, overrides } = agent({ elicitation: { form: {} } }, () => ({ result: {} }));
    const calling = proxyApp(pushy.url, { upstreamProtocol: "2026-07-28" }).callTool(
      "t",
      {},
      context(storedState(), overrides),
    );
    await expect(calling).rejects.toMatchObject({
      code: -32021,
      data: { requiredCapabilities: { elicitation: { url: {} } } },
    });
    expect(asked).toEqual([]);
    expect(calls).toBe(1);
  });

  it("reports a modern upstream's 401 with its status, so the session exchanges a fresh token and retries", async () => {
    const refusing = await plainUpstream((_req, res) =>
      res.writeHead(401, { "WWW-Authenticate": 'Bearer error="invalid_token"' }).end(),
    );
    await expect(
      proxyApp(refusing.url, { upstreamProtocol: "2026-07-28" }).callTool("echo", {}, context(storedState())),
    ).rejects.toMatchObject({ upstreamStatus: 401 });
    // The probe of an `auto` app is refused the same way: no era is learned from a 401.
    await expect(proxyApp(refusing.url).listTools(context(storedState()))).rejects.toMatchObject({
      upstreamStatus: 401,
    });
  });
});
