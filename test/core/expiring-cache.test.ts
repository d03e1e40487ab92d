// The bounded expiring map behind the tiers' verified-token caches and the gateway's
// introspection answers: entries end at their own time or at the cache's maximum age, whichever
// comes first, and the oldest entry makes room. Times are passed in, so no clock is involved.
import { describe, expect, it } from "vitest";
import { ExpiringCache } from "../../src/core/expiring-cache.js";

describe("ExpiringCache", () => {
  it("keeps an entry until its own end, and not at that moment", () => {
    const cache = new ExpiringCache<string>(10, 60_000);
    cache.set("a", "value", 1_500, 1_000);
    expect(cache.get("a", 1_499)).toBe("value");
    expect(cache.get("a", 1_500)).toBeUndefined();
  });

  it("ends an entry at the maximum age even when it would live longer", () => {
    const cache = new ExpiringCache<string>(10, 100);
    cache.set("a", "value", 1_000_000, 1_000);
    expect(cache.get("a", 1_099)).toBe("value");
    expect(cache.get("a", 1_100)).toBeUndefined();
  });

  it("drops the oldest entry to make room, and replacing an entry takes none", () => {
    const cache = new ExpiringCache<number>(2, 60_000);
    cache.set("a", 1, 10_000, 0);
    cache.set("b", 2, 10_000, 0);
    cache.set("b", 3, 10_000, 0);
    expect([cache.get("a", 1), cache.get("b", 1)]).toEqual([1, 3]);
    cache.set("c", 4, 10_000, 0);
    expect([cache.get("a", 1), cache.get("b", 1), cache.get("c", 1)]).toEqual([undefined, 3, 4]);
  });
});
