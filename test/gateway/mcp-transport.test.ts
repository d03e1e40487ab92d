// MCP Streamable HTTP transport (protocol 2025-11-25, also 2025-06-18 and 2025-03-26), as
// served by the gateway front and its McpSession Durable Objects.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../helpers/gateway-stack.js";
import {
  ACCEPT_BOTH,
  deleteSession,
  initializeRequest,
  LATEST,
  openSession,
  parseSse,
  postMcp,
  postOnSession,
} from "../helpers/mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const toolsList = (id: number) => ({ jsonrpc: "2.0", id, method: "tools/list" });

let stack: Stack;
/** The gateway as agent-a sees it: every request carries agent-a's token. */
let gateway: RunningWorker;
beforeAll(async () => {
  stack = await startStack({ stream: { maxRequestBytes: "4KiB", allowedOrigins: ["https://inspector.example"] } });
  gateway = stack.as(await stack.token("agent-a"));
});
afterAll(() => stack.dispose());

describe("initialize", () => {
  it("creates a session with an unguessable Mcp-Session-Id of visible ASCII", async () => {
    const res = await postMcp(gateway, initializeRequest());
    expect(res.status).toBe(200);
    const id = res.headers.get("Mcp-Session-Id");
    expect(id).toMatch(/^[\x21-\x7e]{43}$/);
    const other = (await postMcp(gateway, initializeRequest())).headers.get("Mcp-Session-Id");
    expect(other).not.toBe(id);
  });

  it("answers with the latest protocol version, server info and capabilities", async () => {
    const res = await postMcp(gateway, initializeRequest(LATEST, "init-1"));
    expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({
      jsonrpc: "2.0",
      id: "init-1",
      result: {
        protocolVersion: LATEST,
        capabilities: { tools: { listChanged: false } },
        serverInfo: { name: "ai-identity-gateway", title: "AI Identity Gateway", version: expect.any(String) },
      },
    });
  });

  it.each(["2025-06-18", "2025-03-26"])("accepts the earlier revision %s and answers with it", async (version) => {
    const res = await postMcp(gateway, initializeRequest(version));
    expect(((await res.json()) as { result: { protocolVersion: string } }).result.protocolVersion).toBe(version);
  });

  it("answers an unsupported requested version with the latest supported one", async () => {
    const res = await postMcp(gateway, initializeRequest("1999-01-01"));
    expect(((await res.json()) as { result: { protocolVersion: string } }).result.protocolVersion).toBe(LATEST);
  });

  it("rejects initialize params without clientInfo as Invalid params, creating no session", async () => {
    const res = await postMcp(gateway, {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: LATEST },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("Mcp-Session-Id")).toBeNull();
    expect(await res.json()).toMatchObject({ error: { code: -32602 } });
  });

  it("refuses a second initialize on an existing session", async () => {
    const sessionId = await openSession(gateway);
    const res = await postOnSession(gateway, sessionId, initializeRequest());
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: -32600 } });
  });

  it("answers with an SSE stream when the client accepts only text/event-stream", async () => {
    const res = await postMcp(gateway, initializeRequest(LATEST, 7), { Accept: "text/event-stream" });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("Mcp-Session-Id")).toBeTruthy();
    const [message] = parseSse(await res.text());
    expect(message).toMatchObject({ jsonrpc: "2.0", id: 7, result: { protocolVersion: LATEST } });
  });
});

describe("a session's life", () => {
  it("goes initialize → initialized → tools/list → ping → DELETE, then 404", async () => {
    const sessionId = await openSession(gateway);

    const list = await postOnSession(gateway, sessionId, toolsList(2));
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ jsonrpc: "2.0", id: 2, result: { tools: [] } });

    const ping = await postOnSession(gateway, sessionId, { jsonrpc: "2.0", id: 3, method: "ping" });
    expect(await ping.json()).toEqual({ jsonrpc: "2.0", id: 3, result: {} });

    const del = await deleteSession(gateway, sessionId);
    expect(del.status).toBe(204);

    const after = await postOnSession(gateway, sessionId, toolsList(4));
    expect(after.status).toBe(404);
    expect(await after.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } });
    expect((await deleteSession(gateway, sessionId)).status).toBe(404);
  });

  it("answers notifications with 202 Accepted and no body", async () => {
    const sessionId = await openSession(gateway);
    const res = await postOnSession(gateway, sessionId, {
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: 9 },
    });
    expect(res.status).toBe(202);
    expect(await res.text()).toBe("");
  });

  it("answers an unknown method with JSON-RPC Method not found", async () => {
    const sessionId = await openSession(gateway);
    const res = await postOnSession(gateway, sessionId, { jsonrpc: "2.0", id: 5, method: "no/such/method" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 5, error: { code: -32601 } });
  });

  it("answers a request on a session in SSE when asked to", async () => {
    const sessionId = await openSession(gateway);
    const res = await postOnSession(gateway, sessionId, toolsList(6), { Accept: "text/event-stream" });
    expect(res.headers.get("Content-Type")).toMatch(/^text\/event-stream/);
    expect(parseSse(await res.text())).toEqual([{ jsonrpc: "2.0", id: 6, result: { tools: [] } }]);
  });
});

describe("session routing", () => {
  it("answers 404 for a well-formed session id that was never issued", async () => {
    const res = await postOnSession(gateway, "A".repeat(43), toolsList(1));
    expect(res.status).toBe(404);
  });

  it("answers 404 for a malformed session id", async () => {
    const res = await postOnSession(gateway, "../../etc/passwd", toolsList(1));
    expect(res.status).toBe(404);
  });

  it("answers 400 to a request other than initialize without a session id", async () => {
    const res = await postMcp(gateway, toolsList(1), { "MCP-Protocol-Version": LATEST });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } });
  });

  it("answers DELETE without a session id with 400", async () => {
    const res = await gateway.fetch("/mcp", { method: "DELETE" });
    expect(res.status).toBe(400);
  });
});

describe("malformed and hostile requests", () => {
  it("answers malformed JSON with 400 and JSON-RPC Parse error -32700", async () => {
    const res = await postMcp(gateway, '{"jsonrpc": "2.0", "id": 1, "method": ');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32700, message: expect.any(String) },
    });
  });

  it.each([
    ["a JSON string", '"hello"'],
    ["an object without jsonrpc", '{"id":1,"method":"ping"}'],
    ["jsonrpc 1.0", '{"jsonrpc":"1.0","id":1,"method":"ping"}'],
    ["an empty batch", "[]"],
  ])("answers %s with 400 Invalid Request -32600", async (_name, body) => {
    const res = await postMcp(gateway, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: -32600 } });
  });

  it("answers a wrong Content-Type with 415 Unsupported Media Type", async () => {
    const res = await postMcp(gateway, initializeRequest(), { "Content-Type": "text/plain" });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32000 } });
  });

  it("answers an Accept with neither JSON nor SSE with 406 Not Acceptable", async () => {
    const res = await postMcp(gateway, initializeRequest(), { Accept: "text/html" });
    expect(res.status).toBe(406);
  });

  it("answers an unsupported MCP-Protocol-Version header with 400", async () => {
    const sessionId = await openSession(gateway);
    const res = await postOnSession(gateway, sessionId, toolsList(1), { "MCP-Protocol-Version": "2024-01-01" });
    expect(res.status).toBe(400);
  });

  it("answers a body over the configured limit with 413", async () => {
    const big = JSON.stringify({ ...initializeRequest(), padding: "x".repeat(8 * 1024) });
    const res = await postMcp(gateway, big);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32000 } });
  });

  it("answers a chunked body over the limit (no Content-Length) with 413", async () => {
    const chunk = new TextEncoder().encode("x".repeat(1024));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await gateway.fetch("/mcp", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: ACCEPT_BOTH },
      body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  it("refuses a JSON-RPC batch under 2025-11-25, where batches no longer exist", async () => {
    const sessionId = await openSession(gateway);
    const res = await postOnSession(gateway, sessionId, [toolsList(1), toolsList(2)]);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: -32600 } });
  });

  it("answers a JSON-RPC batch under 2025-03-26 with an array of replies", async () => {
    const sessionId = await openSession(gateway, "2025-03-26");
    const res = await postOnSession(gateway, sessionId, [toolsList(1), { jsonrpc: "2.0", id: 2, method: "ping" }], {
      "MCP-Protocol-Version": "2025-03-26",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      { jsonrpc: "2.0", id: 1, result: { tools: [] } },
      { jsonrpc: "2.0", id: 2, result: {} },
    ]);
  });

  it("answers 403 to a browser Origin that is not allowed (DNS rebinding defence)", async () => {
    const res = await postMcp(gateway, initializeRequest(), { Origin: "https://evil.example" });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32000 } });
  });

  it("serves a configured Origin and the gateway's own", async () => {
    expect((await postMcp(gateway, initializeRequest(), { Origin: "https://inspector.example" })).status).toBe(200);
    // The gateway's own origin is its configured resource's (GATEWAY_RESOURCE here), whatever Host says.
    expect((await postMcp(gateway, initializeRequest(), { Origin: new URL(stack.resource).origin })).status).toBe(200);
    expect((await postMcp(gateway, initializeRequest(), { Origin: gateway.url })).status).toBe(403);
  });

  it("opens a server-to-client SSE stream on GET for the session's owner", async () => {
    const sessionId = await openSession(gateway);
    const controller = new AbortController();
    const res = await gateway.fetch("/mcp", {
      headers: { Accept: "text/event-stream", "Mcp-Session-Id": sessionId },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/event-stream/);
    const first = await res.body!.getReader().read();
    expect(new TextDecoder().decode(first.value)).toMatch(/^: /);
    controller.abort();
  });

  it("answers GET without a session id with 400, an unknown session with 404, and no SSE in Accept with 406", async () => {
    expect((await gateway.fetch("/mcp", { headers: { Accept: "text/event-stream" } })).status).toBe(400);
    expect(
      (await gateway.fetch("/mcp", { headers: { Accept: "text/event-stream", "Mcp-Session-Id": "B".repeat(43) } }))
        .status,
    ).toBe(404);
    expect(
      (await gateway.fetch("/mcp", { headers: { Accept: "application/json", "Mcp-Session-Id": "B".repeat(43) } }))
        .status,
    ).toBe(406);
  });

  it("answers other methods with 405", async () => {
    const res = await gateway.fetch("/mcp", { method: "PUT", body: "{}" });
    expect(res.status).toBe(405);
  });
});
