import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisBridge, type RedisBridge } from "../../scripts/redis-bridge.js";
import { closedPort } from "../helpers/redis.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

describe("auth tier GET /status", () => {
  let auth: RunningWorker;
  beforeAll(async () => {
    auth = await startAuthWorker();
  });
  afterAll(() => auth.dispose());

  it("answers 200 with tier, version and redis ok when Redis answers", async () => {
    const res = await auth.fetch("/status");
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const body = await res.json();
    expect(body).toEqual({
      status: "ok",
      tier: "auth",
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      config: expect.stringMatching(/^sha256:[\w-]{16}$/),
      redis: "ok",
    });
  });

  it("answers an unknown path with an OAuth-style 404, not a stack trace", async () => {
    const res = await auth.fetch("/no/such/endpoint");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "invalid_request", error_description: "no such endpoint" });
  });
});

describe("auth tier GET /status when Redis is down", () => {
  let bridgeToDeadRedis: RedisBridge;
  const workers: RunningWorker[] = [];
  beforeAll(async () => {
    bridgeToDeadRedis = await startRedisBridge({
      redisUrl: `redis://127.0.0.1:${await closedPort()}`,
      token: "t",
      port: 0,
    });
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.dispose()));
    await bridgeToDeadRedis.close();
  });

  it("answers 503 with redis unreachable when the Upstash endpoint answers but Redis does not", async () => {
    const auth = await startAuthWorker({ redis: { url: bridgeToDeadRedis.url, token: "t" } });
    workers.push(auth);
    const res = await auth.fetch("/status");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ tier: "auth", redis: "unreachable" });
  });

  it("answers 503 with redis unreachable when nothing listens at the Upstash URL", async () => {
    const auth = await startAuthWorker({ redis: { url: `http://127.0.0.1:${await closedPort()}`, token: "t" } });
    workers.push(auth);
    const res = await auth.fetch("/status");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ tier: "auth", redis: "unreachable" });
  });

  it("answers 503 within the configured timeout when Redis hangs", async () => {
    // A listener that accepts and never answers: the worst kind of down.
    const { createServer } = await import("node:net");
    const sockets: import("node:net").Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    const config = "oidcProvider:\n  discovery: { issuer: http://localhost:8788 }\n  cache: { timeout: 300ms }\n";
    const auth = await startAuthWorker({ redis: { url: `http://127.0.0.1:${port}`, token: "t" }, config });
    workers.push(auth);
    try {
      const res = await auth.fetch("/status");
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ redis: "unreachable" });
    } finally {
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
  });
});

describe("auth tier with a bad configuration", () => {
  const workers: RunningWorker[] = [];
  afterAll(() => Promise.all(workers.map((w) => w.dispose())));

  it("answers every request with 500 and a JSON body naming the bad field", async () => {
    const auth = await startAuthWorker({
      config: "oidcProvider:\n  discovery: { issuer: not-a-url }\n  session: { lifetime: forever }\n",
    });
    workers.push(auth);
    for (const path of ["/status", "/anything"]) {
      const res = await auth.fetch(path);
      expect(res.status).toBe(500);
      const body = (await res.json()) as { error: string; issues: { path: string }[] };
      expect(body.error).toBe("server_error");
      expect(body.issues.map((i) => i.path).sort()).toEqual([
        "oidcProvider.discovery.issuer",
        "oidcProvider.session.lifetime",
      ]);
    }
  });

  it("names a missing secret without echoing any secret value", async () => {
    const auth = await startAuthWorker({
      bindings: { UPSTASH_REDIS_REST_TOKEN: undefined, UPSTASH_REDIS_REST_URL: "ftp://user:hunter2@x" },
    });
    workers.push(auth);
    const res = await auth.fetch("/status");
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain("hunter2");
    const body = JSON.parse(text) as { issues: { path: string }[] };
    expect(body.issues.map((i) => i.path).sort()).toEqual(["UPSTASH_REDIS_REST_TOKEN", "UPSTASH_REDIS_REST_URL"]);
  });

  it("rejects an unknown field rather than ignoring a typo", async () => {
    const auth = await startAuthWorker({
      config: '{"oidcProvider":{"discovery":{"issuer":"https://a.example"},"sesion":{}}}',
    });
    workers.push(auth);
    const res = await auth.fetch("/status");
    expect(res.status).toBe(500);
    expect(JSON.stringify(await res.json())).toContain("sesion");
  });
});
