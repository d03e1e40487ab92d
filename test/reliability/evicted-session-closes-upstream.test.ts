// An agent session whose Durable Object lost its process (eviction, a restart) and then ended by
// idle timeout: its upstream sessions must still be closed (MCP 2025-11-25 transports, "Session
// Management" item 5), but the agent's token, from which an app's upstream token is exchanged,
// lived only in the lost process's memory and is never written to storage. The gateway then
// sends the upstream's DELETE without credentials rather than keep any token at rest: an
// upstream that takes it ends the session at once, one that insists on a token ends it at its own
// idle timeout. Real workerd (restarted on the same storage), the real auth tier, a real SDK
// upstream recording every request.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it, vi } from "vitest";
import { exchangingProxyApp, GATEWAY_CLIENT, gatewayConfig, startStack } from "../helpers/gateway-stack.js";
import { openSession, postOnSession } from "../helpers/mcp.js";
import { startRecordingMcpServer } from "../helpers/upstream-mcp.js";
import { startGatewayWorker } from "../helpers/workers.js";

const TRACKER_API = "https://tracker.test";
const storage = mkdtempSync(join(tmpdir(), "gateway-evicted-"));
afterAll(() => rmSync(storage, { recursive: true, force: true }));

it(
  "closes an exchange app's upstream session without credentials after the agent's token was lost with its process",
  { timeout: 60_000 },
  async () => {
    const upstream = await startRecordingMcpServer();
    const app = exchangingProxyApp("tracker", upstream.url, TRACKER_API);
    // Tokens of 1 s: by the idle timeout the cached one is dead too, so no token is left anywhere.
    const apps = [
      {
        ...app,
        authorization: {
          outbound: {
            type: "tokenExchange",
            tokenExchange: { ...app.authorization.outbound.tokenExchange, defaults: { ttl: "1s" } },
          },
        },
      },
    ];
    const stream = { session: { timeout: "3s" } };
    const stack = await startStack({ persistDir: storage, apps, stream, exchangeAudiences: [TRACKER_API] });
    try {
      const token = await stack.token();
      const sessionId = await openSession(stack.as(token));
      const res = await postOnSession(stack.as(token), sessionId, {
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: "tracker__echo", arguments: { text: "before" } },
      });
      expect(res.status).toBe(200);
      const call = upstream.requests.find((r) => r.rpcMethod === "tools/call")!;
      expect(call.authorization).toMatch(/^Bearer /);
      await stack.gateway.dispose();

      // A fresh process on the same storage: the session and its upstream session id are there, the agent's token is not.
      const second = await startGatewayWorker({
        auth: stack.auth,
        config: gatewayConfig(stack.auth.url, { apps, stream }),
        bindings: GATEWAY_CLIENT.bindings,
        persistDir: storage,
      });
      try {
        // Nobody touches the session: its stored idle alarm ends it on the fresh runtime.
        const deleted = await vi.waitFor(
          () => {
            const found = upstream.requests.find((r) => r.httpMethod === "DELETE" && r.sessionId === call.sessionId);
            if (!found) throw new Error("no DELETE yet");
            return found;
          },
          { timeout: 30_000, interval: 100 },
        );
        expect(deleted.authorization).toBeUndefined();
        const sessions = await second.mf.getDurableObjectNamespace("MCP_SESSION");
        const session = sessions.get(sessions.idFromName(sessionId)) as unknown as { exists(): Promise<boolean> };
        expect(await session.exists()).toBe(false);
      } finally {
        await second.dispose();
      }
    } finally {
      await stack.auth.dispose();
      await upstream.close();
    }
  },
);
