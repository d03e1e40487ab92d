// Token exchange with the store a round trip away (docs/performance.md, "Redis latency"): the auth
// tier looks revocation up on every exchange, and concurrent exchanges share MGETs
// (src/auth/store/batched-lookups.ts). An exchange that arrives while another's lookup is on its way
// must not wait for that lookup's round trip and then its own: it waits for its own only. Real
// workerd, the real Redis behind the bridge, and a proxy that adds latency to every command (or
// fails it: every exchange of a failed lookup gets the OAuth error, none hangs).
import { randomBytes } from "node:crypto";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startRedisBridge, type RedisBridge } from "../../scripts/redis-bridge.js";
import { authConfig, confidentialClient, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { oauthError, postForm } from "../helpers/oauth-requests.js";
import { REDIS_URL } from "../helpers/redis.js";
import { startStoreFaultProxy, type StoreFaultProxy } from "../helpers/store-fault-proxy.js";
import { revokeAccessToken, signAccessToken } from "../helpers/tokens.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const API = "https://api.test";
/** The added round trip to the store, as in the bench's line for it. */
const ADDED_RTT_MS = 20;
/**
 * How long the proxy holds one lookup back in the first test: a very slow round trip, well short of
 * the batching deadline (3 s), after which a lookup asks alone whatever the batching does.
 */
const SLOW_ROUND_TRIP_MS = 2_500;

const gateway = confidentialClient("gateway", { grantTypes: [TOKEN_EXCHANGE], allowedAudiences: [API] });

let bridge: RedisBridge;
let proxy: StoreFaultProxy;
let auth: RunningWorker;

beforeAll(async () => {
  const token = randomBytes(24).toString("base64url");
  bridge = await startRedisBridge({ redisUrl: REDIS_URL, token, port: 0 });
  proxy = await startStoreFaultProxy(bridge.url);
  auth = await startAuthWorker({
    redis: { url: proxy.url, token },
    config: (url) => authConfig(url, { apps: [gateway.app], cache: { operationTimeout: "10s" } }),
    bindings: gateway.bindings,
  });
});
afterAll(async () => {
  await auth?.dispose();
  await proxy?.close();
  await bridge?.close();
});

const subjectToken = () =>
  signAccessToken(auth.url, { sub: "alice", client_id: "claude", aud: GATEWAY_RESOURCE, scope: "tools:read" });

const exchange = (subject: string) =>
  postForm(
    auth,
    "/token",
    { grant_type: TOKEN_EXCHANGE, subject_token: subject, subject_token_type: ACCESS_TOKEN, audience: API },
    gateway.client,
  );

/** The MGETs the proxy has seen that carry `token`'s revocation lookup. */
const lookupsOf = (token: string) => {
  const jti = decodeJwt(token).jti!;
  return proxy.log().filter((command) => command.body.toLowerCase().includes('"mget"') && command.body.includes(jti));
};

describe("token exchange with the store a round trip away", () => {
  it("does not make exchanges that arrive while a lookup is on its way wait for its round trip", async () => {
    expect((await exchange(await subjectToken())).status).toBe(200); // the tier's caches are warm
    const first = await subjectToken();
    const later = await Promise.all(Array.from({ length: 8 }, subjectToken));
    const firstJti = decodeJwt(first).jti!;
    proxy.set({ kind: "hold" }, (body) => body.includes(firstJti));
    try {
      const firstAnswer = exchange(first);
      await vi.waitFor(() => expect(proxy.held()).toBe(1), { timeout: 10_000, interval: 5 });
      const laterAnswers = Promise.all(later.map(exchange));
      // Every later exchange's lookup reaches the store while the first is still on its way.
      await vi.waitFor(() => expect(later.every((t) => lookupsOf(t).length > 0)).toBe(true), {
        timeout: SLOW_ROUND_TRIP_MS,
        interval: 5,
      });
      expect(lookupsOf(first)).toEqual([expect.objectContaining({ answered: false })]);
      for (const res of await laterAnswers) expect(res.status).toBe(200);
      expect(lookupsOf(first)[0]!.answered).toBe(false);
      // Each asked once, and they still shared MGETs where they arrived together.
      const batches = new Set(later.flatMap(lookupsOf));
      for (const token of later) expect(lookupsOf(token)).toHaveLength(1);
      expect(batches.size).toBeLessThanOrEqual(later.length);
      await proxy.release();
      expect((await firstAnswer).status).toBe(200);
    } finally {
      await proxy.release();
    }
  });

  it("still refuses a revoked subject token under latency, and shares lookups among concurrent exchanges", async () => {
    proxy.setLatency(ADDED_RTT_MS);
    try {
      const revoked = await subjectToken();
      await revokeAccessToken(revoked);
      const tokens = await Promise.all(Array.from({ length: 16 }, subjectToken));
      const seenBefore = proxy.log().length;
      // 16 agents in a closed loop, three exchanges each: a revoked token among them every round.
      const results = await Promise.all(
        tokens.map(async (token, agent) => {
          const statuses: number[] = [];
          for (let round = 0; round < 3; round++) {
            statuses.push((await exchange(agent === 0 ? revoked : token)).status);
          }
          return statuses;
        }),
      );
      expect(results[0]).toEqual([400, 400, 400]);
      for (const statuses of results.slice(1)) expect(statuses).toEqual([200, 200, 200]);
      const mgets = proxy
        .log()
        .slice(seenBefore)
        .filter((command) => command.body.toLowerCase().includes('"mget"'));
      // Every exchange was looked up (48 lookups), in fewer MGETs than exchanges.
      expect(tokens.flatMap(lookupsOf).length + lookupsOf(revoked).length).toBeGreaterThanOrEqual(48);
      expect(mgets.length).toBeLessThan(48);
    } finally {
      proxy.setLatency(0);
    }
  });

  it("answers every exchange of a failed lookup with 503 temporarily_unavailable, none hanging", async () => {
    proxy.setLatency(ADDED_RTT_MS);
    proxy.set({ kind: "fail", status: 500 }, (body) => body.toLowerCase().startsWith('["mget"'));
    try {
      const tokens = await Promise.all(Array.from({ length: 8 }, subjectToken));
      const answers = await Promise.all(tokens.map(exchange));
      for (const res of answers) {
        const { status, error } = await oauthError(res);
        expect(status).toBe(503);
        expect(error).toBe("temporarily_unavailable");
        expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
      }
    } finally {
      await proxy.release();
      proxy.setLatency(0);
    }
    // The store is back: the next exchanges go through.
    expect((await exchange(await subjectToken())).status).toBe(200);
  });
});
