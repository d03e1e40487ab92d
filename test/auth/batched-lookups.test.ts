// The revocation lookups' batching (src/auth/store/batched-lookups.ts), as pure logic: what one request
// asks is what it is told, however the lookups of concurrent requests are grouped.
import { describe, expect, it, vi } from "vitest";
import { BatchedLookups, type SendLookups } from "../../src/auth/store/batched-lookups.js";

/** A store of present keys whose answers arrive when the test releases them. */
function fakeRedis(present: Set<string>) {
  const sent: string[][] = [];
  const releases: (() => void)[] = [];
  const send: SendLookups = (keys) => {
    sent.push(keys);
    return new Promise((resolve) => releases.push(() => resolve(keys.map((k) => (present.has(k) ? "1" : null)))));
  };
  const releaseAll = () => releases.splice(0).forEach((release) => release());
  return { sent, send, releaseAll };
}

/** Polls until `done` holds, failing after five seconds however slow the machine. */
async function until(done: () => boolean): Promise<void> {
  await vi.waitFor(
    () => {
      if (!done()) throw new Error("not yet");
    },
    { timeout: 5_000, interval: 5 },
  );
}

describe("batched revocation lookups", () => {
  it("sends a lone lookup at once", async () => {
    const redis = fakeRedis(new Set(["b"]));
    const lookups = new BatchedLookups(redis.send, { maxKeys: 100, deadlineMs: 1_000 });
    const answer = lookups.lookup(["a", "b"]);
    expect(redis.sent).toEqual([["a", "b"]]);
    redis.releaseAll();
    expect(await answer).toEqual([null, "1"]);
  });

  it("sends the lookups that arrive while one is on its way as one request, each told its own answer", async () => {
    const redis = fakeRedis(new Set(["x2", "y3"]));
    const lookups = new BatchedLookups(redis.send, { maxKeys: 100, deadlineMs: 1_000 });
    const first = lookups.lookup(["x1"]);
    const later = [lookups.lookup(["x2"]), lookups.lookup(["x3", "y3"]), lookups.lookup(["x4"])];
    expect(redis.sent).toHaveLength(1);
    redis.releaseAll();
    expect(await first).toEqual([null]);
    await until(() => redis.sent.length > 1);
    // Which waiting request sends the batch (and so whose keys come first) is up to their timers.
    expect(redis.sent).toHaveLength(2);
    expect([...redis.sent[1]!].sort()).toEqual(["x2", "x3", "x4", "y3"]);
    redis.releaseAll();
    expect(await Promise.all(later)).toEqual([["1"], [null, "1"], [null]]);
  });

  it("keeps a batch within maxKeys", async () => {
    const redis = fakeRedis(new Set());
    const lookups = new BatchedLookups(redis.send, { maxKeys: 3, deadlineMs: 1_000 });
    const all = [lookups.lookup(["a"]), lookups.lookup(["b", "c"]), lookups.lookup(["d", "e"]), lookups.lookup(["f"])];
    let settled = false;
    const answers = Promise.all(all).finally(() => (settled = true));
    await until(() => {
      redis.releaseAll();
      return settled;
    });
    expect(await answers).toEqual([[null], [null, null], [null, null], [null]]);
    expect(redis.sent[0]).toEqual(["a"]);
    for (const batch of redis.sent) expect(batch.length).toBeLessThanOrEqual(3);
    expect(redis.sent.flat().sort()).toEqual(["a", "b", "c", "d", "e", "f"]);
  });

  it("fails every lookup of a batch whose request failed (the caller fails closed)", async () => {
    const lookups = new BatchedLookups(() => Promise.reject(new Error("redis down")), {
      maxKeys: 100,
      deadlineMs: 1_000,
    });
    await expect(lookups.lookup(["a"])).rejects.toThrow("redis down");
  });

  it("looks up alone after the deadline when the batch it joined never answers", async () => {
    let calls = 0;
    const send: SendLookups = (keys) =>
      ++calls === 1 ? new Promise(() => undefined) : Promise.resolve(keys.map(() => null));
    const lookups = new BatchedLookups(send, { maxKeys: 100, deadlineMs: 30 });
    expect(await lookups.lookup(["stuck"])).toEqual([null]);
    // The abandoned batch no longer holds the next lookups back.
    expect(await lookups.lookup(["next"])).toEqual([null]);
  });
});
