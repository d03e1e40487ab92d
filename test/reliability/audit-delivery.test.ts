// Audit events survive a sink outage, a sink that rejects or hangs, the end of their session and
// the loss of the gateway's runtime (docs/audit.md): delivery is at-least-once from a durable
// outbox, each event carries a unique `id` the sink dedupes on, retries back off for the
// configured retention, and only then is anything dropped, counted and logged. The sink here is a
// real HTTP server on loopback that the test stops, breaks and restarts; the gateway runs in real
// workerd and is killed (its Miniflare disposed) and started again on the same storage.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { startFaultyAuditSink, type FaultyAuditSink } from "../helpers/faulty-audit-sink.js";
import { GATEWAY_CLIENT, gatewayConfig, startStack, withToken, type Stack } from "../helpers/gateway-stack.js";
import { deleteSession, openSession, postOnSession } from "../helpers/mcp.js";
import { startOtlpReceiver, type OtlpReceiver } from "../helpers/otlp-receiver.js";
import { startGatewayWorker, type RunningWorker } from "../helpers/workers.js";

/** The outbox's state as its Durable Object reports it (one shard in these tests). */
interface OutboxStatus {
  backlog: number;
  failures: number;
}

/** Short delivery timings, so that an outage of seconds spans many retries. */
const FAST = { flushInterval: "20ms", minBackoff: "100ms", maxBackoff: "1s", timeout: "1s", shards: 1 };

let nextId = 1;
/** A tools/call of a tool no app offers: audited (outcome unknown_tool) with no upstream involved. */
async function call(gateway: RunningWorker, sessionId: string, tool: string): Promise<number> {
  const started = Date.now();
  const res = await postOnSession(gateway, sessionId, {
    jsonrpc: "2.0",
    id: ++nextId,
    method: "tools/call",
    params: { name: tool, arguments: {} },
  });
  expect(res.status).toBe(200);
  await res.body?.cancel();
  return Date.now() - started;
}

async function outbox(gateway: RunningWorker): Promise<OutboxStatus> {
  const namespace = await gateway.mf.getDurableObjectNamespace("AUDIT_OUTBOX");
  const shard = namespace.get(namespace.idFromName("audit-outbox-0")) as unknown as { status(): Promise<OutboxStatus> };
  return shard.status();
}

/** The tools named in the sink's deduplicated events of one session. */
function toolsDelivered(sink: FaultyAuditSink, sessionId: string): string[] {
  return [...sink.unique().values()]
    .filter((e) => e.session_id === sessionId)
    .map((e) => String(e.tool))
    .sort();
}

const sinks: FaultyAuditSink[] = [];
const stacks: Stack[] = [];
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.dispose().catch(() => undefined)));
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

async function sinkIn(mode: Parameters<typeof startFaultyAuditSink>[0]): Promise<FaultyAuditSink> {
  const sink = await startFaultyAuditSink(mode);
  sinks.push(sink);
  return sink;
}

describe("audit delivery across a gateway runtime kill and a sink outage", () => {
  const storage = mkdtempSync(join(tmpdir(), "gateway-audit-"));
  afterAll(() => rmSync(storage, { recursive: true, force: true }));

  it("delivers every event, exactly once per id after dedupe, once the sink is back", { timeout: 90_000 }, async () => {
    const sink = await sinkIn("fail");
    const audit = { sink: { url: sink.url, ...FAST } };
    const stack = await startStack({ persistDir: storage, audit });
    const token = await stack.token();
    const first = stack.as(token);

    // Events made while the sink fails; the session then ends (DELETE) with them undelivered.
    const ended = await openSession(first);
    for (const i of [1, 2, 3, 4]) await call(first, ended, `gone__tool${i}`);
    await vi.waitFor(
      () => expect(sink.requests.filter((r) => r.status === 500 && r.ids.length > 0).length).toBeGreaterThanOrEqual(2),
      { timeout: 10_000 },
    );
    expect((await deleteSession(first, ended)).status).toBe(204);
    expect((await outbox(first)).backlog).toBe(4);

    // The runtime is killed with the events undelivered, and the sink goes away altogether.
    await stack.gateway.dispose();
    await sink.stop();
    const second = withToken(
      await startGatewayWorker({
        auth: stack.auth,
        config: gatewayConfig(stack.auth.url, { audit }),
        bindings: GATEWAY_CLIENT.bindings,
        persistDir: storage,
      }),
      token,
    );
    try {
      // More events on the new runtime while the sink is unreachable.
      const later = await openSession(second);
      for (const i of [1, 2]) await call(second, later, `later__tool${i}`);
      await vi.waitFor(
        async () => expect(await outbox(second)).toMatchObject({ backlog: 6, failures: expect.any(Number) }),
        { timeout: 10_000 },
      );
      const refusedSince = (await outbox(second)).failures;
      await vi.waitFor(async () => expect((await outbox(second)).failures).toBeGreaterThanOrEqual(refusedSince + 3), {
        timeout: 20_000,
      });

      // The sink answers again but fails for a while longer: the retries outlast an outage of many seconds.
      sink.mode = "fail";
      await sink.start();
      const outageStart = sink.requests[0]!.at;
      await vi.waitFor(() => expect(sink.requests.at(-1)!.at - outageStart).toBeGreaterThanOrEqual(12_000), {
        timeout: 30_000,
        interval: 200,
      });
      expect(sink.delivered).toHaveLength(0);

      sink.mode = "accept";
      await vi.waitFor(() => expect(toolsDelivered(sink, later)).toEqual(["later__tool1", "later__tool2"]), {
        timeout: 15_000,
        interval: 100,
      });
      await vi.waitFor(
        () => expect(toolsDelivered(sink, ended)).toEqual(["gone__tool1", "gone__tool2", "gone__tool3", "gone__tool4"]),
        { timeout: 15_000, interval: 100 },
      );
      await vi.waitFor(async () => expect((await outbox(second)).backlog).toBe(0), { timeout: 5_000 });

      // At least once: raw deliveries cover every id; exactly once per id after dedupe.
      expect(sink.unique().size).toBe(6);
      expect(sink.delivered.length).toBeGreaterThanOrEqual(6);
      // A retried event keeps its id: every id the failing sink saw is one that was finally delivered.
      const failedIds = new Set(sink.requests.filter((r) => r.status !== 204).flatMap((r) => r.ids));
      for (const id of failedIds) expect(sink.unique().has(id)).toBe(true);
      // A resent batch carries the key it was first sent with.
      const keyOf = new Map<string, string | undefined>();
      for (const r of sink.requests) {
        const ids = r.ids.join(",");
        if (keyOf.has(ids)) expect(r.idempotencyKey).toBe(keyOf.get(ids));
        else keyOf.set(ids, r.idempotencyKey);
        expect(r.idempotencyKey).toMatch(/^[\w-]{16,}$/);
      }
    } finally {
      await second.dispose();
      await stack.auth.dispose();
    }
  });
});

describe("audit delivery to a misbehaving sink", () => {
  it("keeps events a sink rejects with 4xx and delivers them once it accepts again", { timeout: 60_000 }, async () => {
    const sink = await sinkIn("reject");
    const stack = await startStack({ audit: { sink: { url: sink.url, ...FAST } } });
    stacks.push(stack);
    const gateway = stack.as(await stack.token());
    const sessionId = await openSession(gateway);
    for (const i of [1, 2, 3]) await call(gateway, sessionId, `rejected__tool${i}`);

    await vi.waitFor(() => expect(sink.requests.filter((r) => r.status === 400).length).toBeGreaterThanOrEqual(4), {
      timeout: 20_000,
    });
    expect((await outbox(stack.gateway)).backlog).toBe(3);

    sink.mode = "accept";
    await vi.waitFor(
      () => expect(toolsDelivered(sink, sessionId)).toEqual(["rejected__tool1", "rejected__tool2", "rejected__tool3"]),
      { timeout: 15_000, interval: 100 },
    );
  });

  it(
    "answers tool calls at once while the sink hangs, and delivers their events when it answers",
    { timeout: 60_000 },
    async () => {
      const sink = await sinkIn("hang");
      const stack = await startStack({ audit: { sink: { url: sink.url, ...FAST } } });
      stacks.push(stack);
      const gateway = stack.as(await stack.token());
      const sessionId = await openSession(gateway);

      const latencies: number[] = [];
      for (const i of [1, 2, 3, 4, 5]) latencies.push(await call(gateway, sessionId, `hung__tool${i}`));
      // Keep calling while delivery attempts hang and time out.
      await vi.waitFor(
        () => expect(sink.requests.filter((r) => r.status === "hang").length).toBeGreaterThanOrEqual(2),
        { timeout: 20_000 },
      );
      for (const i of [6, 7, 8]) latencies.push(await call(gateway, sessionId, `hung__tool${i}`));
      // Each call answered well within the sink's delivery timeout (1 s): nothing waits on the sink.
      expect(Math.max(...latencies)).toBeLessThan(1_000);

      sink.mode = "accept";
      await vi.waitFor(() => expect(toolsDelivered(sink, sessionId)).toHaveLength(8), {
        timeout: 20_000,
        interval: 100,
      });
      expect(new Set(toolsDelivered(sink, sessionId)).size).toBe(8);
    },
  );
});

describe("audit events finally dropped", () => {
  let otlp: OtlpReceiver;
  afterAll(() => otlp?.close());

  it(
    "reports the backlog, and counts what is dropped after the retention or beyond the outbox's bound",
    { timeout: 60_000 },
    async () => {
      otlp = await startOtlpReceiver();
      const sink = await sinkIn("fail");
      const stack = await startStack({
        audit: { sink: { url: sink.url, ...FAST, retention: "3s", maxBacklog: 3 } },
        observability: { otlp: { endpoint: otlp.url, metricsInterval: "0s" } },
      });
      stacks.push(stack);
      const gateway = stack.as(await stack.token());
      const sessionId = await openSession(gateway);
      for (const i of [1, 2, 3, 4, 5]) await call(gateway, sessionId, `doomed__tool${i}`);

      // The outbox holds 3 (its bound); the other 2 were dropped on arrival.
      await vi.waitFor(
        () => expect(otlp.total("audit.events.dropped", { "gateway.audit.reason": "outbox_full" })).toBe(2),
        { timeout: 10_000 },
      );
      await vi.waitFor(() => expect(otlp.total("audit.outbox.backlog")).toBe(3), { timeout: 10_000 });
      // After the retention, the 3 left are dropped too, and the backlog is empty.
      await vi.waitFor(
        () => expect(otlp.total("audit.events.dropped", { "gateway.audit.reason": "retention" })).toBe(3),
        { timeout: 20_000 },
      );
      await vi.waitFor(() => expect(otlp.total("audit.outbox.backlog")).toBe(0), { timeout: 10_000 });
      expect((await outbox(stack.gateway)).backlog).toBe(0);
      expect(sink.delivered).toHaveLength(0);
    },
  );
});
