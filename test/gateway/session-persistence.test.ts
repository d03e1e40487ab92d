import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { GATEWAY_CLIENT, gatewayConfig, startStack, withToken } from "../helpers/gateway-stack.js";
import { openSession, postOnSession } from "../helpers/mcp.js";
import { startRecordingMcpServer } from "../helpers/upstream-mcp.js";
import { startGatewayWorker } from "../helpers/workers.js";

describe("McpSession persistence", () => {
  const storage = mkdtempSync(join(tmpdir(), "gateway-do-"));
  afterAll(() => rmSync(storage, { recursive: true, force: true }));

  it("keeps a session across a runtime restart on the same storage", async () => {
    const stack = await startStack({ persistDir: storage });
    const token = await stack.token();
    const sessionId = await openSession(stack.as(token));
    await stack.gateway.dispose();

    const second = await startGatewayWorker({
      auth: stack.auth,
      config: gatewayConfig(stack.auth.url),
      bindings: GATEWAY_CLIENT.bindings,
      persistDir: storage,
    });
    try {
      const res = await postOnSession(withToken(second, token), sessionId, {
        jsonrpc: "2.0",
        id: 1,
        method: "tools/list",
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ jsonrpc: "2.0", id: 1, result: { tools: [] } });
    } finally {
      await second.dispose();
      await stack.auth.dispose();
    }
  });
});

describe("a session with an upstream app across the loss of its runtime", () => {
  const storage = mkdtempSync(join(tmpdir(), "gateway-do-"));
  afterAll(() => rmSync(storage, { recursive: true, force: true }));

  it("continues on a fresh runtime: same gateway session, same upstream session, no new initialize", async () => {
    const upstream = await startRecordingMcpServer();
    const apps = [{ name: "github", type: "mcpProxy", upstream: { stream: { url: upstream.url } } }];
    const stack = await startStack({ persistDir: storage, apps });
    const token = await stack.token();
    try {
      const sessionId = await openSession(stack.as(token));
      const call = (worker: Parameters<typeof postOnSession>[0]) =>
        postOnSession(worker, sessionId, {
          jsonrpc: "2.0",
          id: 1,
          method: "tools/call",
          params: { name: "github__echo", arguments: { text: "hi" } },
        });
      expect((await call(stack.as(token))).status).toBe(200);
      await stack.gateway.dispose();

      const second = await startGatewayWorker({
        auth: stack.auth,
        config: gatewayConfig(stack.auth.url, { apps }),
        bindings: GATEWAY_CLIENT.bindings,
        persistDir: storage,
      });
      try {
        const res = await call(withToken(second, token));
        expect(((await res.json()) as { result: { content: { text: string }[] } }).result.content[0]!.text).toBe("hi");
        expect(upstream.requests.filter((r) => r.rpcMethod === "initialize")).toHaveLength(1);
        expect(
          new Set(upstream.requests.filter((r) => r.rpcMethod === "tools/call").map((r) => r.sessionId)).size,
        ).toBe(1);
      } finally {
        await second.dispose();
      }
    } finally {
      await stack.auth.dispose();
      await upstream.close();
    }
  });
});

describe("McpSession idle timeout", () => {
  it("ends a session that stays idle longer than session.timeout", async () => {
    const stack = await startStack({ stream: { session: { timeout: "1s" } } });
    const gateway = stack.as(await stack.token());
    try {
      const sessionId = await openSession(gateway);
      const sessions = await gateway.mf.getDurableObjectNamespace("MCP_SESSION");
      const session = sessions.get(sessions.idFromName(sessionId)) as unknown as { exists(): Promise<boolean> };
      expect(await session.exists()).toBe(true);
      // Wait on the condition (the alarm fired and erased the session) without touching the session.
      await vi.waitFor(async () => expect(await session.exists()).toBe(false), { timeout: 15_000, interval: 100 });
      const res = await postOnSession(gateway, sessionId, { jsonrpc: "2.0", id: 1, method: "ping" });
      expect(res.status).toBe(404);
    } finally {
      await stack.dispose();
    }
  });
});
