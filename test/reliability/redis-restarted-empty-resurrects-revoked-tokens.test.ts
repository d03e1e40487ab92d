// A Redis that restarts empty has forgotten every revocation (docs/reliability/store-faults.md): the auth
// tier notices by its store epoch and refuses everything issued before, revoked or not, with a
// log line; the gateway refuses such tokens too, and a fresh sign-in works at once. The drill runs
// on a redis-server of its own: the shared one is never flushed.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startRedisServer, type RedisServer } from "../../scripts/chaos/redis-server.js";
import { startRedisBridge, type RedisBridge } from "../../scripts/redis-bridge.js";
import { authConfig, confidentialClient, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { GATEWAY_CLIENT, gatewayConfig, withToken } from "../helpers/gateway-stack.js";
import { initializeRequest, postMcp } from "../helpers/mcp.js";
import { postForm } from "../helpers/oauth-requests.js";
import { startAuthWorker, startGatewayWorker, type RunningWorker } from "../helpers/workers.js";

/** Where the gateway may exchange agents' tokens to (its client's allowedAudiences). */
const UPSTREAM = "https://upstream.test/api";
const agent = confidentialClient("agent", { grantTypes: ["client_credentials"], introspection: true });

let redis: RedisServer;
let bridge: RedisBridge;
let auth: RunningWorker;
let gateway: RunningWorker;

beforeAll(async () => {
  redis = await startRedisServer();
  const token = randomBytes(24).toString("base64url");
  bridge = await startRedisBridge({ redisUrl: redis.url, token, port: 0 });
  auth = await startAuthWorker({
    redis: { url: bridge.url, token },
    config: (url) => authConfig(url, { apps: [agent.app, { ...GATEWAY_CLIENT.app, allowedAudiences: [UPSTREAM] }] }),
    bindings: { ...agent.bindings, ...GATEWAY_CLIENT.bindings },
  });
  gateway = await startGatewayWorker({
    auth,
    config: gatewayConfig(auth.url, { tokenValidation: { introspection: { idp: "auth", interval: "0s" } } }),
    bindings: GATEWAY_CLIENT.bindings,
  });
});
afterAll(async () => {
  await gateway?.dispose();
  await auth?.dispose();
  await bridge?.close();
  await redis?.stop();
});

async function signIn(): Promise<Response> {
  return postForm(
    auth,
    "/token",
    { grant_type: "client_credentials", resource: GATEWAY_RESOURCE, scope: "tools:read" },
    agent.client,
  );
}

async function accessToken(): Promise<string> {
  const res = await signIn();
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const active = async (token: string) =>
  ((await (await postForm(auth, "/introspect", { token }, agent.client)).json()) as { active: boolean }).active;
const atGateway = async (token: string) => (await postMcp(withToken(gateway, token), initializeRequest())).status;

describe("Redis restarted empty", () => {
  it("does not resurrect a revoked token: it stays inactive, the gateway refuses it, and a fresh sign-in works", async () => {
    const revoked = await accessToken();
    const kept = await accessToken();
    expect((await postForm(auth, "/revoke", { token: revoked }, agent.client)).status).toBe(200);
    expect(await active(revoked)).toBe(false);
    expect(await atGateway(revoked)).toBe(401);
    expect(await atGateway(kept)).toBe(200);

    await redis.restartEmpty();
    // The bridge reconnects by itself; wait until the tier reaches the new, empty server.
    await vi.waitFor(async () => expect((await auth.fetch("/status")).status).toBe(200), {
      timeout: 15_000,
      interval: 200,
    });

    // Nothing issued before the loss is honoured: the revoked token, and the others with it.
    expect(await active(revoked)).toBe(false);
    expect(await active(kept)).toBe(false);
    expect(await atGateway(revoked)).toBe(401);
    expect(await atGateway(kept)).toBe(401);
    expect(auth.output()).toMatch(/"event":"store\.epoch_(created|changed)"/);

    // Signing in again works at once.
    const fresh = await accessToken();
    expect(await active(fresh)).toBe(true);
    expect(await atGateway(fresh)).toBe(200);
  });

  it("refuses a token of an earlier epoch at the token exchange, saying why", async () => {
    const before = await accessToken();
    await redis.restartEmpty();
    await vi.waitFor(async () => expect((await auth.fetch("/status")).status).toBe(200), {
      timeout: 15_000,
      interval: 200,
    });
    const res = await postForm(
      auth,
      "/token",
      {
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token: before,
        subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        resource: UPSTREAM,
      },
      GATEWAY_CLIENT.client,
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; error_description: string };
    expect(body.error).toBe("invalid_request"); // RFC 8693 §2.2.2: an unacceptable subject_token
    expect(body.error_description).toMatch(/store lost its data/);
  });
});
