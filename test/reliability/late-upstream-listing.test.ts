// One upstream that hangs on its lists must not hold up the agent's tools/list, prompts/list or
// resources/list: each app gets mcpProvider.limits.listTimeout, and an app that has not answered
// by then is reported under _meta["gateway/unavailableApps"] as a failed one is (docs/apps.md,
// "Failures stay local"). Its listing goes on under the app's own timeout; when it lands, it fills the session's
// catalog and the agent is told the list changed (MCP 2025-11-25 server/tools, "List Changed
// Notification"). Real workerd, real SDK upstream servers, one of which holds its lists.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startStack, type Stack } from "../helpers/gateway-stack.js";
import { openSession, postOnSession } from "../helpers/mcp.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const LIST_TIMEOUT_MS = 2_000;
/** What workerd, the session object and a cold upstream session may add to the wait. */
const SLACK_MS = 3_000;
const LISTS = new Set(["tools/list", "prompts/list", "resources/list", "resources/templates/list"]);

let fast: RecordingMcpServer;
let late: RecordingMcpServer;
let stack: Stack;
let gateway: RunningWorker;
/** While set, the late upstream holds every list request until `release`. */
let holding = false;
let held: (() => void)[] = [];
/** When set, the late upstream answers every list request this many ms late. */
let slowListsMs = 0;
function release(): void {
  holding = false;
  for (const resume of held.splice(0)) resume();
}

beforeAll(async () => {
  [fast, late] = await Promise.all([
    startRecordingMcpServer({ resourceScheme: "fast" }),
    startRecordingMcpServer({
      resourceScheme: "late",
      gate: async (_req, _res, message) => {
        if (!message?.method || !LISTS.has(message.method)) return true;
        if (holding) await new Promise<void>((resume) => held.push(resume));
        if (slowListsMs) await new Promise((resume) => setTimeout(resume, slowListsMs));
        return true;
      },
    }),
  ]);
  stack = await startStack({
    limits: { listTimeout: `${LIST_TIMEOUT_MS}ms` },
    apps: [
      { name: "fast", type: "mcpProxy", upstream: { stream: { url: fast.url } } },
      { name: "late", type: "mcpProxy", upstream: { stream: { url: late.url } }, timeout: "20s" },
    ],
  });
  gateway = stack.as(await stack.token());
});
// A test that failed half-way must not leave the next one facing a held upstream.
afterEach(release);
afterAll(async () => {
  await stack?.dispose();
  await Promise.all([fast, late].map((server) => server?.close()));
});

type Listing = Record<string, unknown> & { _meta?: { "gateway/unavailableApps"?: { app: string; error: string }[] } };
let nextId = 1;
async function list(sessionId: string, method: string): Promise<{ result: Listing; ms: number }> {
  const started = Date.now();
  const res = await postOnSession(gateway, sessionId, { jsonrpc: "2.0", id: ++nextId, method });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { result: Listing };
  return { result: body.result, ms: Date.now() - started };
}
const names = (items: unknown): string[] => (items as { name: string }[]).map((item) => item.name);

describe("an upstream that hangs on its lists, beside a healthy one", () => {
  it(
    "tools/list answers within listTimeout with the healthy app's tools and the late app reported unavailable",
    { timeout: 30_000 },
    async () => {
      holding = true;
      const sessionId = await openSession(gateway);
      const { result, ms } = await list(sessionId, "tools/list");
      expect(ms).toBeLessThan(LIST_TIMEOUT_MS + SLACK_MS);
      expect(names(result.tools)).toEqual(expect.arrayContaining(["fast__echo", "fast__add"]));
      expect(names(result.tools).some((name) => name.startsWith("late__"))).toBe(false);
      expect(result._meta?.["gateway/unavailableApps"]).toEqual([
        { app: "late", error: `did not list within ${LIST_TIMEOUT_MS} ms` },
      ]);
      release();
    },
  );

  it("prompts/list and resources/list do the same", { timeout: 30_000 }, async () => {
    holding = true;
    const sessionId = await openSession(gateway);
    const prompts = await list(sessionId, "prompts/list");
    expect(prompts.ms).toBeLessThan(LIST_TIMEOUT_MS + SLACK_MS);
    expect(names(prompts.result.prompts).some((name) => name.startsWith("fast__"))).toBe(true);
    expect(names(prompts.result.prompts).some((name) => name.startsWith("late__"))).toBe(false);
    expect(prompts.result._meta?.["gateway/unavailableApps"]).toEqual([
      { app: "late", error: `did not list within ${LIST_TIMEOUT_MS} ms` },
    ]);

    const resources = await list(sessionId, "resources/list");
    expect(resources.ms).toBeLessThan(LIST_TIMEOUT_MS + SLACK_MS);
    expect((resources.result.resources as { uri: string }[]).map((r) => r.uri)).toEqual(["fast://readme"]);
    expect(resources.result._meta?.["gateway/unavailableApps"]).toEqual([
      { app: "late", error: `did not list within ${LIST_TIMEOUT_MS} ms` },
    ]);
    release();
  });

  it(
    "once the late upstream answers, its listing fills the catalog, the agent hears tools/list_changed, and later lists include it",
    { timeout: 30_000 },
    async () => {
      holding = true;
      const sessionId = await openSession(gateway);
      const controller = new AbortController();
      const stream = await gateway.fetch("/mcp", {
        headers: { Accept: "text/event-stream", "Mcp-Session-Id": sessionId },
        signal: controller.signal,
      });
      const reader = stream.body!.getReader();
      const first = await list(sessionId, "tools/list");
      expect(first.result._meta?.["gateway/unavailableApps"]).toEqual([
        { app: "late", error: `did not list within ${LIST_TIMEOUT_MS} ms` },
      ]);
      // The agent lists again while the upstream still hangs: it joins the listing in flight,
      // rather than sending the hung upstream one more.
      const again = await list(sessionId, "tools/list");
      expect(again.result._meta?.["gateway/unavailableApps"]).toEqual([
        { app: "late", error: `did not list within ${LIST_TIMEOUT_MS} ms` },
      ]);
      expect(held).toHaveLength(1);

      release();
      let seen = "";
      await vi.waitFor(
        async () => {
          const { value } = await reader.read();
          seen += new TextDecoder().decode(value);
          expect(seen).toContain('"method":"notifications/tools/list_changed"');
        },
        { timeout: 10_000 },
      );
      controller.abort();

      // The late answer is the catalog: the call needs no listing of its own.
      const listsBefore = late.requests.filter((r) => r.rpcMethod === "tools/list").length;
      const res = await postOnSession(gateway, sessionId, {
        jsonrpc: "2.0",
        id: ++nextId,
        method: "tools/call",
        params: { name: "late__echo", arguments: { text: "after the hang" } },
      });
      expect(((await res.json()) as { result: unknown }).result).toEqual({
        content: [{ type: "text", text: "after the hang" }],
      });
      expect(late.requests.filter((r) => r.rpcMethod === "tools/list")).toHaveLength(listsBefore);

      const later = await list(sessionId, "tools/list");
      expect(names(later.result.tools)).toEqual(expect.arrayContaining(["fast__echo", "late__echo"]));
      expect(later.result._meta).toBeUndefined();
    },
  );

  it(
    "a tool call to an app that lists slowly waits for the app's own timeout, not listTimeout",
    { timeout: 30_000 },
    async () => {
      slowListsMs = LIST_TIMEOUT_MS * 3;
      try {
        const sessionId = await openSession(gateway);
        const started = Date.now();
        const res = await postOnSession(gateway, sessionId, {
          jsonrpc: "2.0",
          id: ++nextId,
          method: "tools/call",
          params: { name: "late__echo", arguments: { text: "patient" } },
        });
        expect(((await res.json()) as { result: unknown }).result).toEqual({
          content: [{ type: "text", text: "patient" }],
        });
        expect(Date.now() - started).toBeGreaterThanOrEqual(slowListsMs);
      } finally {
        slowListsMs = 0;
      }
    },
  );
});
