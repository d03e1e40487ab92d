// The revocation lookups' batching (src/auth/store/batched-lookups.ts), as pure logic: what one request
// asks is what it is told, however the lookups of concurrent requests are grouped; a batch goes the
// moment the one on its way is answered (or after maxWaitMs), and nothing waits by polling. Time is
// the fake clock's, so "at once" means "before any timer fires".
import { AsyncLocalStorage } from "node:async_hooks";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BatchedLookups, type SendLookups } from "../../src/auth/store/batched-lookups.js";

/**
 * A store whose keys are read when a command is sent (as Redis reads them when the command runs),
 * and whose answers arrive when the test releases them, oldest first or one by one.
 */
function fakeRedis(present: Set<string>) {
  const sent: string[][] = [];
  const releases: (() => void)[] = [];
  const send: SendLookups = (keys) => {
    sent.push(keys);
    const values = keys.map((k) => (present.has(k) ? "1" : null));
    return new Promise((resolve) => releases.push(() => resolve(values)));
  };
  const releaseAll = () => releases.splice(0).forEach((release) => release());
  const release = (index: number) => releases[index]!();
  return { sent, send, releaseAll, release };
}

/** Lets every settled promise's continuations run (no timer fires: the clock is fake). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

const options = { maxKeys: 100, maxWaitMs: 2, deadlineMs: 1_000 };

describe("batched revocation lookups", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends a lone lookup at once", async () => {
    const redis = fakeRedis(new Set(["b"]));
    const lookups = new BatchedLookups(redis.send, options);
    const answer = lookups.lookup(["a", "b"]);
    expect(redis.sent).toEqual([["a", "b"]]);
    redis.releaseAll();
    expect(await answer).toEqual([null, "1"]);
  });

  it("sends the lookups that arrive while one is on its way as one request the moment it is answered", async () => {
    const redis = fakeRedis(new Set(["x2", "y3"]));
    const lookups = new BatchedLookups(redis.send, options);
    const first = lookups.lookup(["x1"]);
    const later = [lookups.lookup(["x2"]), lookups.lookup(["x3", "y3"]), lookups.lookup(["x4"])];
    expect(redis.sent).toHaveLength(1);
    redis.releaseAll();
    expect(await first).toEqual([null]);
    await settle();
    // No timer has fired: the answer itself sent the next batch, its members in arrival order.
    expect(redis.sent).toEqual([["x1"], ["x2", "x3", "y3", "x4"]]);
    redis.releaseAll();
    expect(await Promise.all(later)).toEqual([["1"], [null, "1"], [null]]);
  });

  it("sends the waiting lookups after maxWaitMs when the batch on its way is slow, without waiting for it", async () => {
    const redis = fakeRedis(new Set());
    const lookups = new BatchedLookups(redis.send, options);
    const first = lookups.lookup(["slow"]);
    const later = [lookups.lookup(["a"]), lookups.lookup(["b"])];
    await vi.advanceTimersByTimeAsync(1);
    expect(redis.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(redis.sent).toEqual([["slow"], ["a", "b"]]);
    redis.release(1);
    expect(await Promise.all(later)).toEqual([[null], [null]]);
    redis.release(0);
    expect(await first).toEqual([null]);
  });

  it("answers every lookup from a read made after it began (a revocation written meanwhile is seen)", async () => {
    const present = new Set<string>();
    const redis = fakeRedis(present);
    const lookups = new BatchedLookups(redis.send, options);
    const before = lookups.lookup(["revoked:jti-1"]);
    present.add("revoked:jti-1"); // revoked while the first read is on its way
    const after = lookups.lookup(["revoked:jti-1"]);
    redis.releaseAll();
    await settle();
    redis.releaseAll();
    expect(await before).toEqual([null]);
    expect(await after).toEqual(["1"]);
  });

  it("keeps a batch within maxKeys", async () => {
    const redis = fakeRedis(new Set());
    const lookups = new BatchedLookups(redis.send, { ...options, maxKeys: 3 });
    const all = [lookups.lookup(["a"]), lookups.lookup(["b", "c"]), lookups.lookup(["d", "e"]), lookups.lookup(["f"])];
    let settled = false;
    const answers = Promise.all(all).finally(() => (settled = true));
    for (let round = 0; round < 10 && !settled; round++) {
      redis.releaseAll();
      await vi.advanceTimersByTimeAsync(2);
    }
    expect(await answers).toEqual([[null], [null, null], [null, null], [null]]);
    expect(redis.sent[0]).toEqual(["a"]);
    for (const batch of redis.sent) expect(batch.length).toBeLessThanOrEqual(3);
    expect(redis.sent.flat().sort()).toEqual(["a", "b", "c", "d", "e", "f"]);
  });

  it("fails every lookup of a batch whose request failed with the store's error (the caller fails closed)", async () => {
    let calls = 0;
    const error = new Error("redis down");
    let failFirst: (e: unknown) => void = () => undefined;
    const send: SendLookups = () =>
      ++calls === 1 ? new Promise((_, reject) => (failFirst = reject)) : Promise.reject(error);
    const lookups = new BatchedLookups(send, options);
    const first = lookups.lookup(["a"]);
    const later = [lookups.lookup(["b"]), lookups.lookup(["c"])];
    failFirst(error);
    await expect(first).rejects.toBe(error);
    for (const lookup of later) await expect(lookup).rejects.toBe(error);
    expect(calls).toBe(2);
  });

  it("waits without polling: at most two timers per lookup, however long the store takes", async () => {
    const redis = fakeRedis(new Set());
    const lookups = new BatchedLookups(redis.send, { ...options, deadlineMs: 60_000 });
    const timers = vi.spyOn(globalThis, "setTimeout");
    const all = [lookups.lookup(["a"]), lookups.lookup(["b"]), lookups.lookup(["c"])];
    await vi.advanceTimersByTimeAsync(30_000);
    expect(redis.sent).toEqual([["a"], ["b", "c"]]);
    expect(timers.mock.calls.length).toBeLessThanOrEqual(2 * all.length);
    redis.releaseAll();
    expect(await Promise.all(all)).toEqual([[null], [null], [null]]);
  });

  it("sends every batch from code running for one of its own members (Workers' I/O rule)", async () => {
    // A stand-in for the request a piece of code runs for: it follows promises and timers as
    // workerd's request context does (real timers: the fake clock's do not carry it).
    vi.useRealTimers();
    const request = new AsyncLocalStorage<string>();
    const sentBy: { sender: string | undefined; keys: string[] }[] = [];
    const redis = fakeRedis(new Set());
    const lookups = new BatchedLookups((keys) => {
      sentBy.push({ sender: request.getStore(), keys });
      return redis.send(keys);
    }, options);
    const ask = (name: string) => request.run(name, () => lookups.lookup([name]));
    const first = [ask("r1")];
    const woken = [ask("r2"), ask("r3")]; // go when r1's batch is answered
    redis.releaseAll();
    await settle();
    const timed = [ask("r4"), ask("r5")]; // go when their wait ends, r2's batch still on its way
    await vi.waitFor(() => expect(sentBy).toHaveLength(3), { timeout: 5_000, interval: 1 });
    redis.releaseAll();
    await Promise.all([...first, ...woken, ...timed]);
    expect(sentBy.map((s) => s.keys)).toEqual([["r1"], ["r2", "r3"], ["r4", "r5"]]);
    for (const { sender, keys } of sentBy) expect(keys).toContain(sender);
  });

  it("looks up alone after the deadline when the batch it joined never answers", async () => {
    let calls = 0;
    const send: SendLookups = (keys) =>
      ++calls <= 2 ? new Promise(() => undefined) : Promise.resolve(keys.map(() => null));
    const lookups = new BatchedLookups(send, { ...options, deadlineMs: 30 });
    const stuck = [lookups.lookup(["stuck"]), lookups.lookup(["joined-1"]), lookups.lookup(["joined-2"])];
    await vi.advanceTimersByTimeAsync(40);
    expect(await Promise.all(stuck)).toEqual([[null], [null], [null]]);
    // The abandoned batches no longer hold the next lookup back: it goes at once.
    const sentBefore = calls;
    const next = lookups.lookup(["next"]);
    expect(calls).toBe(sentBefore + 1);
    expect(await next).toEqual([null]);
  });
});
