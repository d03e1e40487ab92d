// Resource updates an upstream announces on its own, delivered through the gateway in both eras
// (docs/mcp-endpoint.md, "Resource updates"), end to end in workerd: a 2025-era agent on the v1
// SDK client hears `notifications/resources/updated` on its GET stream once it subscribed; a
// 2026-07-28 agent hears it on its `subscriptions/listen` stream for the URIs the acknowledgment
// honoured. The upstreams are real MCP servers (the v1 SDK's stateful Streamable HTTP server, the
// v2 SDK's modern handler) that send the update the way SDK servers do: on the session's GET
// stream, or on a `subscriptions/listen` stream. Also: a dropped upstream stream, an upstream that
// forgot its session, one whose GET stream never answers, unsubscribe, DELETE, a resource the
// policy keeps from the agent, and the context tearing a stream down with `notifications/cancelled`.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { createParser } from "eventsource-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exchangingProxyApp, startStack, type Stack } from "../helpers/gateway-stack.js";
import { deleteSession, openSession, postMcp, postOnSession } from "../helpers/mcp.js";
import { startModernMcpServer, type ModernMcpServer } from "../helpers/modern-upstream-mcp.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const MODERN = "2026-07-28";
const TRACKER_API = "https://tracker.test";

let tracker: RecordingMcpServer;
/** Its resources are ops://…; the app-groups policy keeps the ops app from these agents. */
let ops: RecordingMcpServer;
/** Its GET stream never answers. */
let stalled: RecordingMcpServer;
let live: ModernMcpServer;
let stack: Stack;
let token: string;
let gateway: RunningWorker;

beforeAll(async () => {
  [tracker, ops, stalled, live] = await Promise.all([
    startRecordingMcpServer(),
    startRecordingMcpServer({ resourceScheme: "ops" }),
    startRecordingMcpServer({
      resourceScheme: "slow",
      // The GET stream is accepted and never answered: headers never come.
      gate: (req) => req.method !== "GET",
    }),
    startModernMcpServer({ resources: true }),
  ]);
  stack = await startStack({
    exchangeAudiences: [TRACKER_API],
    // Every request asks the auth tier (RFC 7662), so a revoked token is refused on its next request.
    tokenValidation: { introspection: { idp: "auth", interval: "0s" } },
    apps: [
      { ...exchangingProxyApp("tracker", tracker.url, TRACKER_API), timeout: "2s" },
      {
        ...exchangingProxyApp("ops", ops.url, TRACKER_API),
        authorization: {
          inbound: { opa: { name: "app-groups" } },
          outbound: { type: "tokenExchange", tokenExchange: { idp: "auth", audience: TRACKER_API } },
        },
      },
      { ...exchangingProxyApp("slow", stalled.url, TRACKER_API), timeout: "1s" },
      { ...exchangingProxyApp("live", live.url, TRACKER_API), upstreamProtocol: MODERN },
    ],
  });
  token = await stack.token("agent-a");
  gateway = stack.as(token);
});
afterAll(async () => {
  await stack.dispose();
  await Promise.all([tracker.close(), ops.close(), stalled.close(), live.close()]);
});

/** A 2025-era agent on the v1 SDK client, collecting the resource updates its GET stream carries. */
async function legacyAgent() {
  const transport = new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "legacy-agent", version: "1.0.0" });
  const updates: string[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
  await client.connect(transport);
  return {
    client,
    transport,
    updates,
    /** The session ends (DELETE), as its upstream listeners do. */
    async end() {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

function getStreams(server: RecordingMcpServer): number {
  return server.requests.filter((r) => r.httpMethod === "GET").length;
}

describe("a 2025-era agent's subscription", () => {
  it("delivers the upstream's resources/updated, sent on the upstream's GET stream, to the agent's GET stream", async () => {
    const agent = await legacyAgent();
    try {
      await agent.client.listResources();
      await agent.client.subscribeResource({ uri: "thing://readme" });
      await waitFor(() => tracker.openStreams >= 1 || undefined);
      await untilDelivered(agent.updates, "thing://readme", () => tracker.sendResourceUpdated("thing://readme"));
      // The gateway held its stream with a token exchanged for the app, never the agent's own.
      const get = tracker.requests.find((r) => r.httpMethod === "GET")!;
      expect(get.authorization).toMatch(/^Bearer /);
      expect(get.authorization).not.toBe(`Bearer ${token}`);
    } finally {
      await agent.end();
    }
  });

  it("reconnects after the upstream drops its stream, and updates resume", async () => {
    const agent = await legacyAgent();
    try {
      await agent.client.listResources();
      await agent.client.subscribeResource({ uri: "thing://readme" });
      await waitFor(() => tracker.openStreams >= 1 || undefined);
      const before = getStreams(tracker);
      tracker.dropStreams();
      await waitFor(() => (getStreams(tracker) > before && tracker.openStreams >= 1) || undefined);
      await untilDelivered(agent.updates, "thing://readme", () => tracker.sendResourceUpdated("thing://readme"));
    } finally {
      await agent.end();
    }
  });

  it("initializes anew and subscribes again when the upstream forgot its session (404), and updates resume", async () => {
    const agent = await legacyAgent();
    try {
      await agent.client.listResources();
      await agent.client.subscribeResource({ uri: "thing://readme" });
      await waitFor(() => tracker.openStreams >= 1 || undefined);
      const since = tracker.requests.length;
      await tracker.restart();
      const resubscribed = await waitFor(() =>
        tracker.requests.slice(since).find((r) => r.rpcMethod === "resources/subscribe"),
      );
      expect(resubscribed.params).toEqual({ uri: "thing://readme" });
      expect(tracker.requests.slice(since).some((r) => r.rpcMethod === "initialize")).toBe(true);
      await waitFor(() => tracker.openStreams >= 1 || undefined);
      await untilDelivered(agent.updates, "thing://readme", () => tracker.sendResourceUpdated("thing://readme"));
    } finally {
      await agent.end();
    }
  });

  it("bridges a subscription to a 2026-07-28 upstream: the gateway listens there for the URI", async () => {
    const agent = await legacyAgent();
    try {
      await agent.client.listResources();
      await agent.client.subscribeResource({ uri: "modern://status" });
      await waitFor(() =>
        live.requests.find(
          (r) =>
            r.rpcMethod === "subscriptions/listen" &&
            JSON.stringify(r.params?.notifications).includes("modern://status"),
        ),
      );
      await untilDelivered(agent.updates, "modern://status", () => live.sendResourceUpdated("modern://status"));
    } finally {
      await agent.end();
    }
  });

  it("stops listening upstream on resources/unsubscribe and on DELETE", async () => {
    const agent = await legacyAgent();
    await agent.client.listResources();
    await agent.client.subscribeResource({ uri: "thing://readme" });
    await waitFor(() => tracker.openStreams >= 1 || undefined);
    await agent.client.unsubscribeResource({ uri: "thing://readme" });
    await waitFor(() => tracker.openStreams === 0 || undefined);

    await agent.client.subscribeResource({ uri: "thing://readme" });
    await waitFor(() => tracker.openStreams >= 1 || undefined);
    await agent.transport.terminateSession();
    await waitFor(() => tracker.openStreams === 0 || undefined);
    await agent.client.close();
  });

  it("stops listening upstream when a revoked token presented on the session ends it", async () => {
    const revoked = await stack.token("agent-b");
    const as = stack.as(revoked);
    const sessionId = await openSession(as);
    const rpc = (id: number, method: string, params?: Record<string, unknown>) =>
      postOnSession(as, sessionId, { jsonrpc: "2.0", id, method, ...(params ? { params } : {}) });
    const before = new Set(tracker.openStreamSessions());
    expect((await rpc(1, "resources/list")).status).toBe(200);
    expect((await rpc(2, "resources/subscribe", { uri: "thing://readme" })).status).toBe(200);
    const held = await waitFor(() => tracker.openStreamSessions().find((id) => !before.has(id)));
    await stack.revoke(revoked, "agent-b");
    expect((await rpc(3, "ping")).status).toBe(401);
    await waitFor(() => !tracker.openStreamSessions().includes(held) || undefined);
  });

  it("keeps answering when an upstream's GET stream never answers: calls go on and DELETE ends at once", async () => {
    const sessionId = await openSession(gateway);
    const rpc = (id: number, method: string, params?: Record<string, unknown>) =>
      postOnSession(gateway, sessionId, { jsonrpc: "2.0", id, method, ...(params ? { params } : {}) });
    expect((await rpc(1, "resources/list")).status).toBe(200);
    const subscribed = await rpc(2, "resources/subscribe", { uri: "slow://readme" });
    expect(await subscribed.text()).toContain('"result":{}');
    await waitFor(() => getStreams(stalled) >= 1 || undefined);
    const call = await rpc(3, "tools/call", { name: "tracker__echo", arguments: { text: "still here" } });
    expect(await call.text()).toContain("still here");
    const started = Date.now();
    expect((await deleteSession(gateway, sessionId)).status).toBe(204);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe("a 2026-07-28 agent's resourceSubscriptions", () => {
  it("acknowledges the URIs it may read and delivers their updates, from either era's upstream, under the subscription id", async () => {
    expect((await modern("resources/list")).status).toBe(200);
    const res = await modern(
      "subscriptions/listen",
      {
        notifications: {
          resourceSubscriptions: ["modern://status", "thing://readme", "ops://readme", "nowhere://x"],
        },
      },
      "sub-r",
    );
    expect(res.status).toBe(200);
    const stream = readEvents(res);
    try {
      const ack = await stream.next((m) => m.method === "notifications/subscriptions/acknowledged");
      // ops://readme: the policy keeps the ops app from this agent; nowhere://x: no app serves it.
      expect(ack.params).toEqual({
        _meta: { "io.modelcontextprotocol/subscriptionId": "sub-r" },
        notifications: { resourceSubscriptions: ["modern://status", "thing://readme"] },
      });
      // The modern upstream hears a subscriptions/listen naming its URI, the legacy one a subscribe.
      await waitFor(() =>
        live.requests.find(
          (r) =>
            r.rpcMethod === "subscriptions/listen" &&
            JSON.stringify(r.params?.notifications).includes("modern://status"),
        ),
      );
      const updated = await untilEvent(stream, "modern://status", () => live.sendResourceUpdated("modern://status"));
      expect(updated.params).toEqual({
        uri: "modern://status",
        _meta: { "io.modelcontextprotocol/subscriptionId": "sub-r" },
      });
      await waitFor(() => ops.requests.some((r) => r.rpcMethod === "resources/list") || undefined);
      expect(ops.requests.some((r) => r.rpcMethod === "resources/subscribe")).toBe(false);
      await untilEvent(stream, "thing://readme", () => tracker.sendResourceUpdated("thing://readme"));
    } finally {
      await stream.close();
    }
  });

  it("stops the upstream listeners once the agent closes its stream", async () => {
    // Another agent: its own context, so its own upstream session, told apart from the others'.
    const agentB = stack.as(await stack.token("agent-b"));
    expect((await modern("resources/list", {}, ++nextId, agentB)).status).toBe(200);
    const before = new Set(tracker.openStreamSessions());
    const res = await modern(
      "subscriptions/listen",
      { notifications: { resourceSubscriptions: ["thing://readme"] } },
      ++nextId,
      agentB,
    );
    const stream = readEvents(res);
    await stream.next((m) => m.method === "notifications/subscriptions/acknowledged");
    const held = await waitFor(() => tracker.openStreamSessions().find((id) => !before.has(id)));
    await stream.close();
    await waitFor(() => !tracker.openStreamSessions().includes(held) || undefined);
  });

  it("tears the oldest stream down with notifications/cancelled naming its request when the agent opens too many", async () => {
    const streams = [];
    try {
      for (let k = 0; k < 9; k++) {
        const stream = readEvents(await modern("subscriptions/listen", { notifications: {} }, `many-${k}`));
        await stream.next((m) => m.method === "notifications/subscriptions/acknowledged");
        streams.push(stream);
      }
      const cancelled = await streams[0]!.next((m) => m.method === "notifications/cancelled");
      expect(cancelled.params).toMatchObject({
        requestId: "many-0",
        _meta: { "io.modelcontextprotocol/subscriptionId": "many-0" },
      });
      expect(await streams[0]!.ended()).toBe(true);
    } finally {
      await Promise.all(streams.map((s) => s.close()));
    }
  });
});

let nextId = 1;

function modern(
  method: string,
  params: Record<string, unknown> = {},
  id: string | number = ++nextId,
  as: RunningWorker = gateway,
) {
  return postMcp(
    as,
    {
      jsonrpc: "2.0",
      id,
      method,
      params: {
        ...params,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": MODERN,
          "io.modelcontextprotocol/clientInfo": { name: "modern-test", version: "1.0.0" },
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    },
    { "MCP-Protocol-Version": MODERN, "Mcp-Method": method },
  );
}

interface Message {
  method?: string;
  params?: Record<string, unknown>;
}

/** The JSON-RPC messages of an SSE response as they come, each awaited with a deadline. */
function readEvents(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const queue: Message[] = [];
  let done = false;
  const parser = createParser({ onEvent: (event) => event.data && queue.push(JSON.parse(event.data) as Message) });
  // One read at a time: a read the deadline gave up on is still the next to answer.
  let reading: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  const pull = async (deadline: number): Promise<void> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error("nothing came before the deadline")),
        Math.max(0, deadline - Date.now()),
      );
    });
    reading ??= reader.read();
    try {
      const { value, done: ended } = await Promise.race([reading, timeout]);
      reading = undefined;
      if (ended) done = true;
      else parser.feed(decoder.decode(value, { stream: true }));
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    async next(match: (m: Message) => boolean, deadlineMs = 10_000): Promise<Message> {
      const deadline = Date.now() + deadlineMs;
      for (;;) {
        const index = queue.findIndex(match);
        if (index >= 0) return queue.splice(index, 1)[0]!;
        if (done) throw new Error("the stream ended");
        await pull(deadline);
      }
    },
    async ended(deadlineMs = 10_000): Promise<boolean> {
      const deadline = Date.now() + deadlineMs;
      while (!done) await pull(deadline);
      return true;
    },
    close: () => reader.cancel().catch(() => undefined),
  };
}

/**
 * Sends the update until the stream carries it: the upstream sends on the streams open at that
 * moment, and the gateway's own stream may be reopening. Each try waits a little for the event.
 */
async function untilEvent(
  stream: ReturnType<typeof readEvents>,
  uri: string,
  send: () => unknown,
  deadlineMs = 10_000,
) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    await send();
    try {
      return await stream.next(
        (m) => m.method === "notifications/resources/updated" && m.params?.uri === uri,
        Math.min(500, deadline - Date.now()),
      );
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}

async function untilDelivered(updates: string[], uri: string, send: () => unknown, deadlineMs = 10_000) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    await send();
    const step = Date.now() + 500;
    while (Date.now() < step) {
      if (updates.includes(uri)) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (Date.now() > deadline) throw new Error(`no update of ${uri} before the deadline`);
  }
}

async function waitFor<T>(probe: () => T | undefined, deadlineMs = 10_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error("condition not met before the deadline");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
