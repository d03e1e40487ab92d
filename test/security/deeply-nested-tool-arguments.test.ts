// An agent sends a tools/call whose arguments nest thousands of levels deep. The gateway must
// answer with a JSON-RPC error and HTTP 400 (JSON-RPC 2.0 §5.1, MCP Streamable HTTP), never a
// 500 from the session's Durable Object, and the session stays usable.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exchangingProxyApp, startStack, type Stack } from "../helpers/gateway-stack.js";
import { openSession, postOnSession } from "../helpers/mcp.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const API = "https://api.example.test";

let upstream: RecordingMcpServer;
let stack: Stack;
let agent: RunningWorker;

beforeAll(async () => {
  upstream = await startRecordingMcpServer();
  stack = await startStack({
    exchangeAudiences: [API],
    apps: [exchangingProxyApp("github", upstream.url, API)],
  });
  agent = stack.as(await stack.token());
});
afterAll(async () => {
  await stack.dispose();
  await upstream.close();
});

function nested(depth: number, kind: "object" | "array"): string {
  return kind === "object"
    ? '{"a":'.repeat(depth) + "1" + "}".repeat(depth)
    : "[".repeat(depth) + "1" + "]".repeat(depth);
}

function toolCall(id: number, argumentsJson: string): string {
  return `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"github__echo","arguments":{"text":"hi","deep":${argumentsJson}}}}`;
}

async function echo(sessionId: string, id: number) {
  const res = await postOnSession(agent, sessionId, {
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name: "github__echo", arguments: { text: "still here" } },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { result: { isError?: boolean; content: { text: string }[] } };
}

describe("a tools/call nested thousands of levels deep", () => {
  it("gets HTTP 400 and a JSON-RPC Invalid Request error, and the session still answers afterwards", async () => {
    const sessionId = await openSession(agent);
    const before = upstream.requests.filter((r) => r.rpcMethod === "tools/call").length;
    for (const kind of ["object", "array"] as const) {
      const res = await postOnSession(agent, sessionId, toolCall(7, nested(10_000, kind)));
      expect(res.status).toBe(400);
      const body = (await res.json()) as { jsonrpc: string; id: unknown; error: { code: number; message: string } };
      expect(body).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32600 } });
      expect(body.error.message).toMatch(/nest/i);
    }
    expect(upstream.requests.filter((r) => r.rpcMethod === "tools/call").length).toBe(before);
    const after = await echo(sessionId, 8);
    expect(after.result.isError).toBeUndefined();
    expect(after.result.content[0]!.text).toContain("still here");
  });

  it("is refused the same way before the agent even has a session (no Durable Object is reached)", async () => {
    const res = await postOnSession(agent, "no-such-session", toolCall(9, nested(10_000, "object")));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32600);
  });

  it("lets ordinarily nested arguments through", async () => {
    const sessionId = await openSession(agent);
    const res = await postOnSession(agent, sessionId, toolCall(10, nested(20, "object")));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { result: { isError?: boolean } }).result.isError).toBeUndefined();
  });
});
