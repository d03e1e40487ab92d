// JSON-RPC batches (MCP 2025-03-26 only): an agent that sends a batch of thousands of messages,
// or many tools/list in one batch to make the gateway list every upstream again and again. A
// batch longer than mcpProvider.limits.batchSize is refused whole (HTTP 400, JSON-RPC -32600,
// nothing executed); the list requests of one batch share one listing of the upstreams.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exchangingProxyApp, startStack, type Stack } from "../helpers/gateway-stack.js";
import { openSession, postOnSession } from "../helpers/mcp.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const API = "https://api.example.test";
const V2025_03_26 = { "MCP-Protocol-Version": "2025-03-26" };

let upstream: RecordingMcpServer;
let stack: Stack;
let agent: RunningWorker;

beforeAll(async () => {
  upstream = await startRecordingMcpServer();
  stack = await startStack({
    exchangeAudiences: [API],
    limits: { batchSize: 5 },
    apps: [exchangingProxyApp("github", upstream.url, API)],
  });
  agent = stack.as(await stack.token());
});
afterAll(async () => {
  await stack.dispose();
  await upstream.close();
});

const count = (method: string) => upstream.requests.filter((r) => r.rpcMethod === method).length;
const echo = (id: number) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: "github__echo", arguments: { text: `call ${id}` } },
});
const toolsList = (id: number) => ({ jsonrpc: "2.0", id, method: "tools/list" });

describe("a JSON-RPC batch", () => {
  it("longer than the configured batchSize is refused whole with 400 and -32600, and none of it runs", async () => {
    const sessionId = await openSession(agent, "2025-03-26");
    const before = { calls: count("tools/call"), lists: count("tools/list") };
    const res = await postOnSession(
      agent,
      sessionId,
      Array.from({ length: 6 }, (_, i) => echo(i + 1)),
      V2025_03_26,
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { id: unknown; error: { code: number; message: string } };
    expect(body).toMatchObject({ id: null, error: { code: -32600 } });
    expect(body.error.message).toContain("5");
    expect({ calls: count("tools/call"), lists: count("tools/list") }).toEqual(before);
  });

  it("of thousands of messages is refused the same way", async () => {
    const sessionId = await openSession(agent, "2025-03-26");
    const res = await postOnSession(
      agent,
      sessionId,
      Array.from({ length: 5000 }, () => ({ jsonrpc: "2.0", method: "notifications/initialized" })),
      V2025_03_26,
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32600);
  });

  it("up to batchSize long is answered, message by message", async () => {
    const sessionId = await openSession(agent, "2025-03-26");
    const res = await postOnSession(agent, sessionId, [echo(1), echo(2), echo(3), echo(4), echo(5)], V2025_03_26);
    expect(res.status).toBe(200);
    const replies = (await res.json()) as { id: number; result: { content: { text: string }[] } }[];
    expect(replies.map((r) => r.result.content[0]!.text)).toEqual(["call 1", "call 2", "call 3", "call 4", "call 5"]);
  });

  it("lists the upstream once for all the tools/list requests it holds", async () => {
    const sessionId = await openSession(agent, "2025-03-26");
    const before = count("tools/list");
    const res = await postOnSession(
      agent,
      sessionId,
      [toolsList(1), toolsList(2), toolsList(3), toolsList(4), toolsList(5)],
      V2025_03_26,
    );
    expect(res.status).toBe(200);
    const replies = (await res.json()) as { id: number; result: { tools: { name: string }[] } }[];
    expect(replies).toHaveLength(5);
    for (const reply of replies) expect(reply.result.tools.map((t) => t.name)).toContain("github__echo");
    expect(count("tools/list") - before).toBe(1);
  });

  it("lists the upstream again in the next request: sharing ends with the batch", async () => {
    const sessionId = await openSession(agent, "2025-03-26");
    const before = count("tools/list");
    for (const id of [1, 2])
      expect((await postOnSession(agent, sessionId, [toolsList(id)], V2025_03_26)).status).toBe(200);
    expect(count("tools/list") - before).toBe(2);
  });
});
