// The upstream listener's rules in-process (src/gateway/apps/upstream-listener.ts), with streams
// a test writes by hand: what it passes on, how it resumes (`retry:`, `Last-Event-ID`), when it
// gives up for good (405), what it does to an upstream that floods or stalls, and that it opens
// its stream anew before the token expires. The end-to-end behaviour with real upstreams is in
// resource-updates.test.ts.
import { describe, expect, it } from "vitest";
import { ListenUnsupported, UpstreamListener, type ListenerStream } from "../../src/gateway/apps/upstream-listener.js";

const FAST = { initialBackoffMs: 10, maxBackoffMs: 50 };

/** An event-stream response whose body the test writes; `end()` closes it, `cancelled` tells whether the reader let go. */
function stream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const state = { cancelled: false };
  const body = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
    cancel: () => void (state.cancelled = true),
  });
  const encoder = new TextEncoder();
  return {
    response: new Response(body, { headers: { "Content-Type": "text/event-stream" } }),
    send: (text: string) => controller.enqueue(encoder.encode(text)),
    end: () => controller.close(),
    state,
  };
}

const updated = (uri: string, id?: string) =>
  `${id ? `id: ${id}\n` : ""}data: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri } })}\n\n`;

async function waitFor<T>(probe: () => T | undefined | false, deadlineMs = 5_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error("condition not met before the deadline");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("the upstream listener", () => {
  it("passes on resource updates and list changes, and nothing else the upstream sends there", async () => {
    const s = stream();
    const delivered: [string, unknown][] = [];
    const listener = new UpstreamListener({
      app: "a",
      open: async () => ({ response: s.response }),
      deliver: (method, params) => void delivered.push([method, params]),
      limits: FAST,
    });
    listener.start();
    s.send(`data: ${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" })}\n\n`);
    s.send(`data: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/message", params: { data: "x" } })}\n\n`);
    s.send("data: not json\n\n");
    s.send(`data: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/tools/list_changed" })}\n\n`);
    s.send(updated("thing://a"));
    await waitFor(() => delivered.length === 2);
    await listener.stop();
    expect(delivered).toEqual([
      ["notifications/tools/list_changed", {}],
      ["notifications/resources/updated", { uri: "thing://a" }],
    ]);
  });

  it("reconnects after the stream ends, resuming after the last event id at the pace the upstream's retry: asks", async () => {
    const first = stream();
    const second = stream();
    const opened: { lastEventId: string | undefined; at: number }[] = [];
    const delivered: unknown[] = [];
    const listener = new UpstreamListener({
      app: "a",
      open: async (_signal, lastEventId) => {
        opened.push({ lastEventId, at: Date.now() });
        return { response: (opened.length === 1 ? first : second).response };
      },
      deliver: (_method, params) => void delivered.push(params),
      limits: { initialBackoffMs: 5_000, maxBackoffMs: 5_000 },
    });
    listener.start();
    first.send("retry: 100\n\n");
    first.send(updated("thing://a", "7"));
    await waitFor(() => delivered.length === 1);
    first.end();
    await waitFor(() => opened.length === 2);
    second.send(updated("thing://b"));
    await waitFor(() => delivered.length === 2);
    await listener.stop();
    expect(opened[1]!.lastEventId).toBe("7");
    // Not the 5 s initial backoff: the upstream's 100 ms.
    expect(opened[1]!.at - opened[0]!.at).toBeLessThan(2_000);
  });

  it("stops for good, and says so once, when the upstream offers no stream (405)", async () => {
    let opens = 0;
    let gone = 0;
    const listener = new UpstreamListener({
      app: "a",
      open: async () => {
        opens++;
        throw new ListenUnsupported("a");
      },
      deliver: () => undefined,
      onGone: () => void gone++,
      limits: FAST,
    });
    listener.start();
    await waitFor(() => listener.stopped);
    await listener.stop();
    expect({ opens, gone }).toEqual({ opens: 1, gone: 1 });
  });

  it("backs off, doubling, while the upstream cannot be reached", async () => {
    const opened: number[] = [];
    const listener = new UpstreamListener({
      app: "a",
      open: async () => {
        opened.push(Date.now());
        throw new Error("unreachable");
      },
      deliver: () => undefined,
      limits: { initialBackoffMs: 40, maxBackoffMs: 1_000 },
    });
    listener.start();
    await waitFor(() => opened.length >= 4);
    await listener.stop();
    const gaps = opened.slice(1).map((at, k) => at - opened[k]!);
    expect(gaps[2]!).toBeGreaterThanOrEqual(gaps[0]! * 2);
  });

  it("drops a stream whose event grows past the size limit, and one that floods, then reconnects", async () => {
    const huge = stream();
    const flood = stream();
    const healthy = stream();
    const streams = [huge, flood, healthy];
    let opens = 0;
    const delivered: unknown[] = [];
    const listener = new UpstreamListener({
      app: "a",
      open: async () => ({ response: streams[opens++]!.response }),
      deliver: (_method, params) => void delivered.push(params),
      limits: { ...FAST, maxEventBytes: 1024, burst: 5, eventsPerSecond: 1 },
    });
    listener.start();
    huge.send(`data: ${"x".repeat(4096)}`);
    await waitFor(() => huge.state.cancelled);
    await waitFor(() => opens === 2);
    flood.send(Array.from({ length: 20 }, (_, k) => updated(`thing://${k}`)).join(""));
    await waitFor(() => flood.state.cancelled);
    await waitFor(() => opens === 3);
    healthy.send(updated("thing://after"));
    await waitFor(() => delivered.some((p) => (p as { uri: string }).uri === "thing://after"));
    await listener.stop();
    // The flood delivered its burst and no more.
    expect(delivered.length).toBeLessThanOrEqual(6);
  });

  it("keeps a stream that sends only keep-alive comments, however long it lives", async () => {
    const quiet = stream();
    const delivered: unknown[] = [];
    const listener = new UpstreamListener({
      app: "a",
      open: async () => ({ response: quiet.response }),
      deliver: (_method, params) => void delivered.push(params),
      limits: { ...FAST, maxEventBytes: 256 },
    });
    listener.start();
    await waitFor(() => listener.connections === 1);
    for (let k = 0; k < 100; k++) quiet.send(":\n\n");
    quiet.send(updated("thing://x"));
    await waitFor(() => delivered.length === 1);
    await listener.stop();
    expect(listener.connections).toBe(1);
    expect(quiet.state.cancelled).toBe(true);
  });

  it("opens its stream anew, with a fresh token, before the one it was opened with expires", async () => {
    const opened: ListenerStream[] = [];
    const listener = new UpstreamListener({
      app: "a",
      open: async () => {
        const s = stream();
        const opening = { response: s.response, tokenExpiresAt: Date.now() + 1_000 };
        opened.push(opening);
        return opening;
      },
      deliver: () => undefined,
      limits: { ...FAST, renewMarginMs: 500 },
    });
    listener.start();
    await waitFor(() => opened.length >= 2, 4_000);
    await listener.stop();
  });

  it("stops at once while the upstream holds its stream silent, cancelling it", async () => {
    const silent = stream();
    const listener = new UpstreamListener({
      app: "a",
      open: async () => ({ response: silent.response }),
      deliver: () => undefined,
      limits: FAST,
    });
    listener.start();
    await waitFor(() => listener.connections === 1);
    const started = Date.now();
    await listener.stop();
    expect(Date.now() - started).toBeLessThan(500);
    expect(silent.state.cancelled).toBe(true);
  });

  it("stops at once while the upstream has not answered the stream's request, aborting it", async () => {
    let opened = false;
    let aborted = false;
    const listener = new UpstreamListener({
      app: "a",
      open: (signal) => {
        opened = true;
        return new Promise((_, reject) =>
          signal.addEventListener("abort", () => ((aborted = true), reject(new Error("x")))),
        );
      },
      deliver: () => undefined,
      limits: FAST,
    });
    listener.start();
    await waitFor(() => opened);
    await listener.stop();
    expect(aborted).toBe(true);
  });
});
