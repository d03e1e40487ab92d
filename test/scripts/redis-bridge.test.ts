import { randomBytes, randomUUID } from "node:crypto";
import { Redis as Upstash } from "@upstash/redis";
import { Redis as IORedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisBridge, type RedisBridge } from "../../scripts/redis-bridge.js";
import { closedPort } from "../helpers/redis.js";

const REDIS_URL = "redis://127.0.0.1:6379";

describe("redis bridge (Upstash REST protocol)", () => {
  const token = randomBytes(24).toString("base64url");
  // The Redis server is shared: every key lives under a prefix unique to this run, removed afterwards.
  const prefix = `redis-bridge-test:${randomUUID()}:`;
  let n = 0;
  const key = (label: string) => `${prefix}${label}:${n++}`;
  let bridge: RedisBridge;
  let client: Upstash;

  /** Raw protocol access, for what the client hides (status codes, wire encoding). */
  async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(bridge.url + path, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, type: res.headers.get("content-type"), body: await res.json() };
  }

  beforeAll(async () => {
    bridge = await startRedisBridge({ redisUrl: REDIS_URL, token, port: 0 });
    client = new Upstash({ url: bridge.url, token, enableTelemetry: false });
  });

  afterAll(async () => {
    await bridge?.close();
    const direct = new IORedis(REDIS_URL);
    const keys = await direct.keys(`${prefix}*`);
    if (keys.length > 0) await direct.del(...keys);
    await direct.quit();
  });

  describe("wire protocol", () => {
    it("answers a single command at POST / with {result}", async () => {
      const k = key("single");
      expect(await post("/", ["SET", k, "v", "PX", 60_000])).toEqual({
        status: 200,
        type: "application/json",
        body: { result: "OK" },
      });
      expect((await post("/", ["GET", k])).body).toEqual({ result: "v" });
    });

    it("base64-encodes every string at any depth under Upstash-Encoding: base64, except a top-level OK", async () => {
      const b64 = (s: string) => Buffer.from(s).toString("base64");
      const headers = { "Upstash-Encoding": "base64" };
      expect((await post("/", ["SET", key("enc"), "x"], headers)).body).toEqual({ result: "OK" });
      expect((await post("/", ["PING"], headers)).body).toEqual({ result: b64("PONG") });
      const script = "return {1, 'é', {ok='OK'}, {'x', {'y', 2}}, false}";
      expect((await post("/", ["EVAL", script, 0], headers)).body).toEqual({
        result: [1, b64("é"), b64("OK"), [b64("x"), [b64("y"), 2]], null],
      });
    });

    it("keeps Redis's flat array for HGETALL on the wire", async () => {
      const k = key("hash");
      await post("/", ["HSET", k, "f1", "v1", "f2", "v2"]);
      expect((await post("/", ["hgetall", k])).body).toEqual({ result: ["f1", "v1", "f2", "v2"] });
    });

    it("accepts numbers and booleans as arguments", async () => {
      const k = key("numbers");
      expect((await post("/", ["SET", k, 42, "EX", 60])).body).toEqual({ result: "OK" });
      expect((await post("/", ["INCRBY", k, 1])).body).toEqual({ result: 43 });
      expect((await post("/", ["SET", k, true])).body).toEqual({ result: "OK" });
      expect((await post("/", ["GET", k])).body).toEqual({ result: "true" });
    });

    it("answers a Redis error reply with 400 {error}", async () => {
      const k = key("not-a-number");
      await post("/", ["SET", k, "abc"]);
      const res = await post("/", ["INCR", k]);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: "ERR value is not an integer or out of range" });
    });

    it("runs a pipeline, putting a failing command's error in its own slot", async () => {
      const k = key("pipeline");
      const res = await post("/pipeline", [["SET", k, "abc"], ["INCR", k], ["GET"], ["GET", k]]);
      expect(res.status).toBe(200);
      expect(res.body).toEqual([
        { result: "OK" },
        { error: "ERR value is not an integer or out of range" },
        { error: expect.stringMatching(/^ERR wrong number of arguments/) },
        { result: "abc" },
      ]);
    });

    it("runs /multi-exec atomically, with runtime errors in their slot", async () => {
      const k = key("multi");
      const res = await post("/multi-exec", [
        ["SET", k, "abc"],
        ["INCR", k],
        ["APPEND", k, "d"],
      ]);
      expect(res).toMatchObject({
        status: 200,
        body: [{ result: "OK" }, { error: expect.stringMatching(/^ERR/) }, { result: 4 }],
      });
    });

    it("answers 400 and runs nothing when a transaction is aborted as a whole", async () => {
      const k = key("aborted");
      const res = await post("/multi-exec", [["SET", k, "1"], ["GET"]]);
      expect(res).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^EXECABORT/) } });
      expect((await post("/", ["EXISTS", k])).body).toEqual({ result: 0 });
    });

    it("answers 401 without a token or with a wrong one", async () => {
      for (const authorization of [undefined, "Bearer wrong", `Basic ${token}`, "Bearer "]) {
        const res = await fetch(bridge.url, {
          method: "POST",
          headers: authorization ? { Authorization: authorization } : {},
          body: JSON.stringify(["PING"]),
        });
        expect(res.status).toBe(401);
        expect(await res.json()).toEqual({ error: "Unauthorized" });
      }
    });

    it("answers 400 to malformed JSON, non-array bodies and empty commands", async () => {
      const bad: [string, string][] = [
        ["/", "{not json"],
        ["/", JSON.stringify({ command: "PING" })],
        ["/", "[]"],
        ["/", JSON.stringify(["SET", "k", { nested: true }])],
        ["/pipeline", JSON.stringify(["PING"])],
        ["/pipeline", "[]"],
        ["/multi-exec", JSON.stringify([[]])],
      ];
      for (const [path, body] of bad) {
        const res = await post(path, body);
        expect(res.status, `${path} ${body}`).toBe(400);
        expect(res.body).toEqual({ error: expect.any(String) });
      }
    });

    it("refuses commands that would change the shared connection's state", async () => {
      const res = await post("/", ["SUBSCRIBE", "channel"]);
      expect(res.status).toBe(400);
      expect((await post("/", ["PING"])).body).toEqual({ result: "PONG" });
    });

    it("answers 404 to an unknown path and 405 to a method other than POST", async () => {
      expect(await post("/get/k", ["GET", "k"])).toMatchObject({ status: 404, body: { error: expect.any(String) } });
      const res = await fetch(bridge.url, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(405);
      expect(await res.json()).toEqual({ error: expect.any(String) });
    });

    it("answers 413 to a body over maxBodyBytes", async () => {
      const small = await startRedisBridge({ redisUrl: REDIS_URL, token, port: 0, maxBodyBytes: 64 });
      try {
        const res = await fetch(small.url, {
          method: "POST",
          headers: { Authorization: `Bearer ${token}` },
          body: JSON.stringify(["SET", key("big"), "x".repeat(1_000)]),
        });
        expect(res.status).toBe(413);
        expect(await res.json()).toEqual({ error: expect.any(String) });
      } finally {
        await small.close();
      }
    });

    it("answers 503 at once when Redis cannot be reached", async () => {
      const down = await startRedisBridge({ redisUrl: `redis://127.0.0.1:${await closedPort()}`, token, port: 0 });
      try {
        const started = Date.now();
        for (const [path, body] of [
          ["/", ["PING"]],
          ["/pipeline", [["PING"]]],
          ["/multi-exec", [["PING"]]],
        ] as const) {
          const res = await fetch(down.url + path, {
            method: "POST",
            headers: { Authorization: `Bearer ${token}` },
            body: JSON.stringify(body),
          });
          expect(res.status).toBe(503);
          expect(await res.json()).toEqual({ error: expect.stringMatching(/^Redis unavailable/) });
        }
        expect(Date.now() - started).toBeLessThan(1_000);
      } finally {
        await down.close();
      }
    });
  });

  describe("driven by @upstash/redis", () => {
    it("SET with PX and NX sets once, then answers null", async () => {
      const k = key("nx");
      expect(await client.set(k, "first", { px: 60_000, nx: true })).toBe("OK");
      expect(await client.set(k, "second", { px: 60_000, nx: true })).toBeNull();
      expect(await client.get(k)).toBe("first");
      const pttl = await client.pttl(k);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(60_000);
    });

    it("GETDEL returns the value once, then null", async () => {
      const k = key("getdel");
      await client.set(k, "once");
      expect(await client.getdel(k)).toBe("once");
      expect(await client.getdel(k)).toBeNull();
    });

    it("INCR counts from nothing", async () => {
      const k = key("counter");
      expect(await client.incr(k)).toBe(1);
      expect(await client.incr(k)).toBe(2);
    });

    it("EXPIRE sets a TTL that TTL and PTTL report", async () => {
      const k = key("expire");
      await client.set(k, "v");
      expect(await client.ttl(k)).toBe(-1);
      expect(await client.expire(k, 100)).toBe(1);
      expect(await client.ttl(k)).toBeGreaterThan(90);
      expect(await client.pttl(k)).toBeGreaterThan(90_000);
      expect(await client.ttl(key("missing"))).toBe(-2);
    });

    it("EVAL returns a number from a Lua script", async () => {
      const k = key("eval-number");
      const script = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
      expect(await client.eval(script, [k], ["5"])).toBe(5);
      expect(await client.eval(script, [k], [7])).toBe(12);
    });

    it("EVAL returns an array of strings from a Lua script", async () => {
      const k = key("eval-array");
      const script = "return {KEYS[1], ARGV[1], 'héllo ✓'}";
      expect(await client.eval(script, [k], ["abc"])).toEqual([k, "abc", "héllo ✓"]);
    });

    it("runs a pipeline", async () => {
      const k = key("client-pipeline");
      const results = await client.pipeline().set(k, "1").incr(k).get(k).del(k).exec();
      expect(results).toEqual(["OK", 2, 2, 1]);
    });

    it("reports a pipeline's failing command while the others still run", async () => {
      const [text, number] = [key("text"), key("number")];
      const results = await client.pipeline().set(text, "abc").incr(text).incr(number).exec({ keepErrors: true });
      expect(results.map((r) => r.error)).toEqual([
        undefined,
        "ERR value is not an integer or out of range",
        undefined,
      ]);
      expect(results[2]!.result).toBe(1);
      await expect(client.pipeline().incr(text).exec()).rejects.toThrow(/ERR value is not an integer/);
    });

    it("runs a transaction", async () => {
      const k = key("client-multi");
      expect(await client.multi().set(k, "10").incrby(k, 5).get(k).exec()).toEqual(["OK", 15, 15]);
    });

    it("HSET and HGETALL give back the object", async () => {
      const k = key("client-hash");
      expect(await client.hset(k, { name: "Ada", visits: 3 })).toBe(2);
      expect(await client.hgetall(k)).toEqual({ name: "Ada", visits: 3 });
      expect(await client.hgetall(key("no-hash"))).toBeNull();
    });

    it("round-trips unicode values", async () => {
      for (const value of ["🔑🚀 emoji", "日本語のテキスト", "中文 한국어", "mixed é ß 𝄞"]) {
        const k = key("unicode");
        await client.set(k, value);
        expect(await client.get(k)).toBe(value);
      }
    });

    it("round-trips binary-looking values, base64 lookalikes and a stored OK", async () => {
      for (const value of ["\u0000\u00ff", "aGVsbG8=", "T0s=", "OK", "QUEUED", ""]) {
        const k = key("binary");
        await client.set(k, value);
        expect(await client.get(k)).toBe(value);
      }
    });

    it("turns a Redis error reply into a thrown error carrying Redis's message", async () => {
      const k = key("client-error");
      await client.set(k, "abc");
      await expect(client.incr(k)).rejects.toThrow(/ERR value is not an integer or out of range/);
    });

    it("rejects a client holding the wrong token", async () => {
      const wrong = new Upstash({ url: bridge.url, token: "wrong", enableTelemetry: false });
      await expect(wrong.get(key("any"))).rejects.toThrow(/Unauthorized/);
    });
  });
});
