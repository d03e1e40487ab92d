// The front's deadline on a Durable Object that never answers (src/gateway/mcp/object-deadline.ts;
// docs/mcp-endpoint.md, "When an object does not answer"), in-process: the MCP endpoint's POST
// handler in a hono app whose session and principal-context bindings are stand-ins that never
// answer, on fake timers.
import { Hono, type Context } from "hono";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { renderGatewayError } from "../../src/gateway/errors.js";
import {
  OBJECT_MARGIN_MS,
  objectDeadlineMs,
  ObjectDeadlinePassed,
  withinDeadline,
} from "../../src/gateway/mcp/object-deadline.js";

// The endpoint's module is typed against the Workers runtime's globals (Durable Object stubs),
// which this Node test's types lack: it is imported by a path tsc does not follow, and typed here
// by what the test uses.
const TRANSPORT = "../../src/gateway/mcp/http-transport.js";
const { handlePost } = (await import(/* @vite-ignore */ TRANSPORT)) as {
  handlePost(c: Context, caller: unknown): Promise<Response>;
};

const APP_TIMEOUT_MS = 200;

/** What the POST handler reads of the configuration. */
const config = {
  apps: [{ name: "slow", timeout: APP_TIMEOUT_MS }],
  provider: {
    limits: { maxJsonDepth: 64, batchSize: 20 },
    transports: { stream: { session: { headerName: "Mcp-Session-Id" } } },
  },
};

const caller = {
  principal: { issuer: "https://issuer.example", sub: "ada", clientId: "agent", scopes: ["tools:read"], expiresAt: 0 },
  token: "token",
  claims: {},
};

/** An object that never answers a request (after a progress notification, with `talkFirst`), and records the cancellations it is sent. */
function silentObject(talkFirst: boolean) {
  const cancelled: string[] = [];
  const stub = {
    request: (
      _message: unknown,
      _principal: unknown,
      _request: unknown,
      options: { onEvent?: (m: unknown) => void },
    ) => {
      if (talkFirst)
        options.onEvent?.({
          jsonrpc: "2.0",
          method: "notifications/progress",
          params: { progressToken: 1, progress: 0 },
        });
      return new Promise(() => undefined);
    },
    receive: () => new Promise(() => undefined),
    cancel: async (key: string) => void cancelled.push(key),
  };
  return { cancelled, namespace: { idFromName: (name: string) => name, get: () => stub } };
}

function endpoint({ talkFirst = false } = {}) {
  const object = silentObject(talkFirst);
  const app = new Hono();
  app.use(async (c, next) => {
    c.set("config" as never, config as never);
    await next();
  });
  app.post("/mcp", (c) => handlePost(c, caller));
  app.onError(renderGatewayError);
  const waiting: Promise<unknown>[] = [];
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    app.request(
      "/mcp",
      {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...headers },
        body: JSON.stringify(body),
      },
      { PRINCIPAL_CONTEXT: object.namespace, MCP_SESSION: object.namespace },
      {
        waitUntil: (promise: Promise<unknown>) => void waiting.push(promise),
        passThroughOnException: () => undefined,
      } as never,
    ) as Promise<Response>;
  return { post, cancelled: object.cancelled };
}

const DEADLINE = objectDeadlineMs(config.apps);

const modernCall = (id: string) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: {
    name: "slow__wait",
    arguments: {},
    _meta: {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientCapabilities": {},
    },
  },
});
const MODERN_HEADERS = { "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "slow__wait" };

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("the front's deadline on an object", () => {
  it("is three times the longest app timeout per request (list, call, one retry), plus a margin", () => {
    expect(objectDeadlineMs([{ timeout: 30_000 }, { timeout: 5_000 }])).toBe(90_000 + OBJECT_MARGIN_MS);
    expect(objectDeadlineMs([{ timeout: 1_000 }], 3)).toBe(9_000 + OBJECT_MARGIN_MS);
    expect(objectDeadlineMs([])).toBe(OBJECT_MARGIN_MS);
  });

  it("lets an answer through untouched, and clears its timer", async () => {
    await expect(withinDeadline(Promise.resolve("answered"), 1_000)).resolves.toBe("answered");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("rejects once the deadline passes first, after telling the caller", async () => {
    const onLate = vi.fn();
    const late = withinDeadline(new Promise(() => undefined), 1_000, onLate);
    const settled = expect(late).rejects.toBeInstanceOf(ObjectDeadlinePassed);
    await vi.advanceTimersByTimeAsync(1_000);
    await settled;
    expect(onLate).toHaveBeenCalledOnce();
  });

  it("a principal's context that never answers a 2026-07-28 request: the request's id, -32603 and 503 with Retry-After, and the object is told to cancel", async () => {
    const { post, cancelled } = endpoint();
    const answered = post(modernCall("call-7"), MODERN_HEADERS);
    await vi.advanceTimersByTimeAsync(DEADLINE - 1);
    let done = false;
    void answered.then(() => (done = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const res = await answered;
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("1");
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", id: "call-7", error: { code: -32603 } });
    expect(cancelled).toHaveLength(1);
  });

  it("a context that falls silent after the response stream opened: the stream ends with the request's error", async () => {
    const { post, cancelled } = endpoint({ talkFirst: true });
    const res = await post(modernCall("call-8"), { ...MODERN_HEADERS, Accept: "text/event-stream" });
    expect(res.headers.get("Content-Type")).toBe("text/event-stream");
    const body = res.text();
    await vi.advanceTimersByTimeAsync(DEADLINE);
    const frames = (await body)
      .split("\n\n")
      .filter((frame) => frame.startsWith("event: message"))
      .map((frame) => JSON.parse(frame.split("data: ")[1]!) as Record<string, unknown>);
    expect(frames).toMatchObject([
      { method: "notifications/progress" },
      { id: "call-8", error: { code: -32603, message: expect.stringContaining("Service Unavailable") } },
    ]);
    expect(cancelled).toHaveLength(1);
  });

  it("a session that never answers a 2025-11-25 request: the same 503, with the request's id", async () => {
    const { post } = endpoint();
    const answered = post(
      { jsonrpc: "2.0", id: 12, method: "tools/call", params: { name: "slow__wait", arguments: {} } },
      { "MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": "a".repeat(43) },
    );
    await vi.advanceTimersByTimeAsync(DEADLINE);
    const res = await answered;
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("1");
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", id: 12, error: { code: -32603 } });
  });
});
