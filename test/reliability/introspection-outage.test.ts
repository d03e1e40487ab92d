// The auth tier away or slow while the gateway introspects agents' tokens (RFC 7662): by default
// every request fails closed; an operator's `staleIfError` window keeps tokens answered "active"
// shortly before working for that long and no longer; a token never answered, or answered
// revoked, is never let through by it; and a stalled introspection endpoint sheds load at once
// (503 + Retry-After) beyond `maxConcurrent` instead of piling up requests that wait for `timeout`.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.js";
import { GATEWAY_CLIENT, gatewayConfig, startStack, withToken, type Stack } from "../helpers/gateway-stack.js";
import { initializeRequest, postMcp } from "../helpers/mcp.js";
import { startGatewayWorker, type RunningWorker } from "../helpers/workers.js";

let stack: Stack;
const running: { close(): Promise<void> }[] = [];

/** A gateway that reaches the stack's auth tier through a fault proxy, with these introspection settings. */
async function gatewayBehindProxy(
  introspection: Record<string, unknown>,
): Promise<{ gateway: RunningWorker; proxy: FaultProxy }> {
  const proxy = await startFaultProxy(stack.auth);
  const gateway = await startGatewayWorker({
    auth: proxy.worker,
    config: gatewayConfig(stack.auth.url, { tokenValidation: { introspection: { idp: "auth", ...introspection } } }),
    bindings: GATEWAY_CLIENT.bindings,
  });
  running.push({ close: () => gateway.dispose() }, proxy);
  return { gateway, proxy };
}

const initialize = (gateway: RunningWorker, token: string) => postMcp(withToken(gateway, token), initializeRequest());

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  for (const r of running.reverse()) await r.close();
  await stack.dispose();
});

describe("introspection when the auth tier is away", () => {
  it("fails closed by default: once an answer is past its interval, no answer means 503", async () => {
    const { gateway, proxy } = await gatewayBehindProxy({ interval: "0s" });
    const token = await stack.token();
    expect((await initialize(gateway, token)).status).toBe(200);
    proxy.set("/introspect", { kind: "fail", status: 502 });
    const res = await initialize(gateway, token);
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("5");
  });

  it("with staleIfError, keeps an active answer usable while the auth tier cannot answer, and no longer than the window", async () => {
    const { gateway, proxy } = await gatewayBehindProxy({ interval: "0s", staleIfError: "2s" });
    const token = await stack.token();
    expect((await initialize(gateway, token)).status).toBe(200);
    proxy.set("/introspect", { kind: "fail", status: 502 });
    expect((await initialize(gateway, token)).status).toBe(200);
    // Past the window the gateway refuses again, though the outage goes on.
    await vi.waitFor(async () => expect((await initialize(gateway, token)).status).toBe(503), {
      timeout: 10_000,
      interval: 250,
    });
  });

  it("never lets a token through on staleness that was not answered active before the outage", async () => {
    const { gateway, proxy } = await gatewayBehindProxy({ interval: "0s", staleIfError: "1h" });
    proxy.set("/introspect", { kind: "fail", status: 502 });
    expect((await initialize(gateway, await stack.token())).status).toBe(503);
  });

  it("never revives a revoked token during an outage", async () => {
    const { gateway, proxy } = await gatewayBehindProxy({ interval: "0s", staleIfError: "1h" });
    const token = await stack.token();
    expect((await initialize(gateway, token)).status).toBe(200);
    await stack.revoke(token);
    expect((await initialize(gateway, token)).status).toBe(401);
    proxy.set("/introspect", { kind: "fail", status: 502 });
    expect((await initialize(gateway, token)).status).toBe(401);
  });
});

describe("introspection under overload", () => {
  it("sheds requests beyond maxConcurrent at once with 503 and Retry-After, and serves the held ones once the server answers", async () => {
    const { gateway, proxy } = await gatewayBehindProxy({ interval: "0s", timeout: "20s", maxConcurrent: 2 });
    const tokens = await Promise.all([stack.token(), stack.token(), stack.token()]);
    proxy.set("/introspect", { kind: "hold" });
    const held = tokens.slice(0, 2).map((token) => initialize(gateway, token));
    await vi.waitFor(() => expect(proxy.held()).toHaveLength(2), { timeout: 10_000 });

    const started = Date.now();
    const shed = await initialize(gateway, tokens[2]!);
    expect(shed.status).toBe(503);
    expect(shed.headers.get("Retry-After")).toBe("1");
    expect(Date.now() - started).toBeLessThan(5_000);

    proxy.release();
    expect((await Promise.all(held)).map((res) => res.status)).toEqual([200, 200]);
  });

  it("asks once for a token that many concurrent requests carry", async () => {
    // A request that reaches the check only after the answer came uses that answer (interval), so
    // however slowly the eight arrive, the server is asked once.
    const { gateway, proxy } = await gatewayBehindProxy({ interval: "1h", timeout: "20s", maxConcurrent: 1 });
    const token = await stack.token();
    proxy.set("/introspect", { kind: "hold" });
    const requests = Array.from({ length: 8 }, () => initialize(gateway, token));
    await vi.waitFor(() => expect(proxy.held()).toHaveLength(1), { timeout: 10_000 });
    proxy.release();
    expect((await Promise.all(requests)).map((res) => res.status)).toEqual(Array(8).fill(200));
    expect(proxy.seen("/introspect")).toBe(1);
  });
});
