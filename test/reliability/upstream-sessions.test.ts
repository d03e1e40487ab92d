// Faults on the gateway's own MCP sessions with upstream MCP servers (MCP 2025-11-25 transports,
// "Session Management"): an SDK-built upstream that restarted and answers the old session with
// 400 "Server not initialized" instead of 404; agent sessions that end by idle timeout, whose
// upstream sessions must be closed (DELETE) as an agent's DELETE closes them; and a call longer
// than the idle timeout, which must not end its own session mid-call. Real workerd, the real
// auth tier for token exchange, real SDK upstream servers that record every request.
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startStack, type Stack } from "../helpers/gateway-stack.js";
import { openSession, postOnSession } from "../helpers/mcp.js";
import { startRecordingMcpServer, type RecordedRequest, type RecordingMcpServer } from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const TRACKER_API = "https://tracker.test";
/** The agent sessions' idle timeout. */
const IDLE_MS = 2_000;

let tracker: RecordingMcpServer;
let plain: RecordingMcpServer;
let stack: Stack;
let gateway: RunningWorker;

beforeAll(async () => {
  // SDK servers that, like one keeping a single transport per process, answer a session they do
  // not know (after a restart) with the SDK's own 400 "Bad Request: Server not initialized".
  [tracker, plain] = await Promise.all([
    startRecordingMcpServer({ unknownSession: "uninitializedTransport" }),
    startRecordingMcpServer({ unknownSession: "uninitializedTransport" }),
  ]);
  stack = await startStack({
    stream: { session: { timeout: `${IDLE_MS}ms` } },
    exchangeAudiences: [TRACKER_API],
    apps: [
      {
        name: "tracker",
        type: "mcpProxy",
        upstream: { stream: { url: tracker.url } },
        // Tokens of 1 s: by the idle timeout the cached one is dead, so closing needs a new exchange.
        authorization: {
          outbound: {
            type: "tokenExchange",
            tokenExchange: { idp: "auth", audience: TRACKER_API, defaults: { ttl: "1s" } },
          },
        },
      },
      { name: "plain", type: "mcpProxy", upstream: { stream: { url: plain.url } } },
    ],
  });
  gateway = stack.as(await stack.token());
});
afterAll(async () => {
  await stack?.dispose();
  await Promise.all([tracker, plain].map((server) => server?.close()));
});

let nextId = 1;
async function call(sessionId: string, name: string, args: Record<string, unknown>) {
  const res = await postOnSession(gateway, sessionId, {
    jsonrpc: "2.0",
    id: ++nextId,
    method: "tools/call",
    params: { name, arguments: args },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { result: { isError?: boolean; content: { text: string }[] } }).result;
}

/** The upstream session id that carried the last tools/call with `text` (echo) or `ms` (slow). */
function upstreamSessionOf(upstream: RecordingMcpServer, argument: unknown): string {
  const request = upstream.requests
    .filter(
      (r) =>
        r.rpcMethod === "tools/call" && Object.values((r.params as { arguments: object }).arguments).includes(argument),
    )
    .at(-1);
  if (!request?.sessionId) throw new Error(`no tools/call with ${String(argument)} reached the upstream`);
  return request.sessionId;
}

const deletesOf = (upstream: RecordingMcpServer, sessionId: string): RecordedRequest[] =>
  upstream.requests.filter((r) => r.httpMethod === "DELETE" && r.sessionId === sessionId);

describe("an upstream that restarted and answers the old session with 400 Server not initialized", () => {
  it("gets a new upstream session: the call succeeds, and so do the session's later calls", async () => {
    const sessionId = await openSession(gateway);
    expect((await call(sessionId, "plain__echo", { text: "before restart" })).content[0]!.text).toBe("before restart");
    const before = upstreamSessionOf(plain, "before restart");
    await plain.restart();
    const from = plain.requests.length;

    const after = await call(sessionId, "plain__echo", { text: "after restart" });
    expect(after).toEqual({ content: [{ type: "text", text: "after restart" }] });
    expect((await call(sessionId, "plain__echo", { text: "later" })).content[0]!.text).toBe("later");

    const seen = plain.requests.slice(from);
    // The refused call, then one initialize, then the call again and the later one on the new session.
    expect(seen.filter((r) => r.rpcMethod === "initialize")).toHaveLength(1);
    const renewed = upstreamSessionOf(plain, "after restart");
    expect(renewed).not.toBe(before);
    expect(upstreamSessionOf(plain, "later")).toBe(renewed);
  });
});

describe("a new agent session's concurrent first requests", () => {
  it("share one upstream initialization per app, so no upstream session is opened and left behind", async () => {
    const sessionId = await openSession(gateway);
    const from = { tracker: tracker.requests.length, plain: plain.requests.length };
    // Four lists at once, each a POST of its own: each needs the upstream sessions, none has one yet.
    const methods = ["tools/list", "prompts/list", "resources/list", "resources/templates/list"];
    const answers = await Promise.all(
      methods.map((method) => postOnSession(gateway, sessionId, { jsonrpc: "2.0", id: ++nextId, method })),
    );
    expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 200]);

    for (const [upstream, start] of [
      [tracker, from.tracker],
      [plain, from.plain],
    ] as const) {
      const seen = upstream.requests.slice(start);
      expect(seen.filter((r) => r.rpcMethod === "initialize")).toHaveLength(1);
      // Every list went on the one upstream session.
      const lists = seen.filter((r) => r.rpcMethod?.endsWith("/list"));
      expect(lists.length).toBeGreaterThan(0);
      expect(new Set(lists.map((r) => r.sessionId)).size).toBe(1);
    }
  });
});

describe("an agent session that ends by idle timeout", () => {
  it(
    "closes its upstream sessions with DELETE, with a newly exchanged token where the app needs one",
    { timeout: 30_000 },
    async () => {
      const sessionId = await openSession(gateway);
      await call(sessionId, "tracker__echo", { text: `idle ${sessionId}` });
      await call(sessionId, "plain__echo", { text: `idle ${sessionId}` });
      const trackerSession = upstreamSessionOf(tracker, `idle ${sessionId}`);
      const plainSession = upstreamSessionOf(plain, `idle ${sessionId}`);

      // Nobody touches the session: its alarm ends it, and with it the upstream sessions.
      const [trackerDelete] = await vi.waitFor(
        () => {
          const found = [deletesOf(tracker, trackerSession), deletesOf(plain, plainSession)];
          if (found.some((deletes) => deletes.length === 0)) throw new Error("no DELETE yet");
          return found.map((deletes) => deletes[0]!);
        },
        { timeout: 20_000, interval: 100 },
      );
      const token = trackerDelete!.authorization!.replace(/^Bearer /, "");
      expect(decodeJwt(token)).toMatchObject({ aud: TRACKER_API, sub: "agent-a", client_id: "gateway" });
      // The call's token had died by then: this one was exchanged for the DELETE.
      const callToken = tracker.requests
        .find((r) => r.rpcMethod === "tools/call" && r.sessionId === trackerSession)!
        .authorization!.replace(/^Bearer /, "");
      expect(decodeJwt(token).jti).not.toBe(decodeJwt(callToken).jti);
      expect(deletesOf(tracker, trackerSession)).toHaveLength(1);

      const res = await postOnSession(gateway, sessionId, { jsonrpc: "2.0", id: ++nextId, method: "ping" });
      expect(res.status).toBe(404);
    },
  );
});

describe("a tool call longer than the idle timeout", () => {
  it(
    "completes, and neither its agent session nor its upstream session ends under it",
    { timeout: 30_000 },
    async () => {
      const sessionId = await openSession(gateway);
      const ms = IDLE_MS * 2 + 1; // an argument no other test uses
      const result = await call(sessionId, "plain__slow", { ms });
      expect(result).toEqual({ content: [{ type: "text", text: `waited ${ms} ms` }] });
      const upstreamSession = upstreamSessionOf(plain, ms);
      expect(deletesOf(plain, upstreamSession)).toEqual([]);

      // The same agent session goes on, on the same upstream session.
      expect((await call(sessionId, "plain__echo", { text: `after slow ${sessionId}` })).content[0]!.text).toBe(
        `after slow ${sessionId}`,
      );
      expect(upstreamSessionOf(plain, `after slow ${sessionId}`)).toBe(upstreamSession);
    },
  );
});
