// The auth tier's store stalls or fails (docs/reliability/store-faults.md): every endpoint that needs it
// answers 503 temporarily_unavailable with Retry-After within `cache.operationTimeout` (never a
// 500, never a hang), and a refresh whose rotation went through after the client had given up is
// retried with the same refresh token and gets that rotation's answer: the grant survives, and
// so does the user's session at the gateway.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startRedisBridge, type RedisBridge } from "../../scripts/redis-bridge.js";
import { authConfig, confidentialClient, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { authorizationParams, pkce } from "../helpers/authorization-request.js";
import { GATEWAY_CLIENT, gatewayConfig, withToken } from "../helpers/gateway-stack.js";
import { openSession, postOnSession } from "../helpers/mcp.js";
import { postForm } from "../helpers/oauth-requests.js";
import { REDIS_URL } from "../helpers/redis.js";
import { seedRefreshFamily } from "../helpers/refresh-family.js";
import { startStoreFaultProxy, type StoreFaultProxy } from "../helpers/store-fault-proxy.js";
import { startAuthWorker, startGatewayWorker, type RunningWorker } from "../helpers/workers.js";

/** Where the gateway may exchange agents' tokens to (its client's allowedAudiences). */
const UPSTREAM = "https://upstream.test/api";
const app = confidentialClient("app", {
  redirectUris: ["http://127.0.0.1/cb"],
  grantTypes: ["authorization_code", "refresh_token"],
  introspection: true,
});
/** Well past the 1 s deadline, well short of any stall: what "answered within the deadline" allows. */
const ANSWER_WITHIN_MS = 3_500;

let bridge: RedisBridge;
let proxy: StoreFaultProxy;
let auth: RunningWorker;
let gateway: RunningWorker;

beforeAll(async () => {
  const token = randomBytes(24).toString("base64url");
  bridge = await startRedisBridge({ redisUrl: REDIS_URL, token, port: 0 });
  proxy = await startStoreFaultProxy(bridge.url);
  auth = await startAuthWorker({
    redis: { url: proxy.url, token },
    config: (url) =>
      authConfig(url, {
        apps: [app.app, { ...GATEWAY_CLIENT.app, allowedAudiences: [UPSTREAM] }],
        cache: { operationTimeout: "1s" },
        tokens: { refreshReuseGrace: "30s" },
      }),
    bindings: { ...app.bindings, ...GATEWAY_CLIENT.bindings },
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
  await proxy?.close();
  await bridge?.close();
});

const refresh = (refreshToken: string) =>
  postForm(auth, "/token", { grant_type: "refresh_token", refresh_token: refreshToken }, app.client);

async function refreshed(refreshToken: string): Promise<{ access_token: string; refresh_token: string }> {
  const res = await refresh(refreshToken);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as { access_token: string; refresh_token: string };
}

/** A request's answer and how long it took. */
async function timed(request: () => Promise<Response>): Promise<{ res: Response; ms: number }> {
  const started = Date.now();
  const res = await request();
  return { res, ms: Date.now() - started };
}

async function expectUnavailableJson(request: () => Promise<Response>): Promise<void> {
  const { res, ms } = await timed(request);
  expect(res.status).toBe(503);
  expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
  expect(((await res.json()) as { error: string }).error).toBe("temporarily_unavailable");
  expect(ms).toBeLessThan(ANSWER_WITHIN_MS);
}

async function expectUnavailablePage(request: () => Promise<Response>): Promise<void> {
  const { res, ms } = await timed(request);
  expect(res.status).toBe(503);
  expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
  expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
  expect(await res.text()).toContain("temporarily_unavailable");
  expect(ms).toBeLessThan(ANSWER_WITHIN_MS);
}

async function clientCredentialsSubjectToken(): Promise<string> {
  // A token the gateway could exchange: the app's own, from a refresh of a seeded grant.
  const { refreshToken } = await seedRefreshFamily("app", { resource: [GATEWAY_RESOURCE], scope: "tools:read" });
  return (await refreshed(refreshToken)).access_token;
}

const exchange = (subjectToken: string) =>
  postForm(
    auth,
    "/token",
    {
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: subjectToken,
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      resource: UPSTREAM,
    },
    GATEWAY_CLIENT.client,
  );

async function authorize(): Promise<Response> {
  const { challenge } = await pkce();
  const query = new URLSearchParams(authorizationParams("app", "http://127.0.0.1/cb", challenge));
  return auth.fetch(`/authorize?${query}`, { redirect: "manual" });
}

const requests: Record<string, (subject: string, refreshToken: string) => Promise<Response>> = {
  "/token (refresh)": (_subject, refreshToken) => refresh(refreshToken),
  "/token (code)": () =>
    postForm(
      auth,
      "/token",
      {
        grant_type: "authorization_code",
        code: "x".repeat(43),
        redirect_uri: "http://127.0.0.1/cb",
        code_verifier: "v".repeat(43),
      },
      app.client,
    ),
  "/token (exchange)": (subject) => exchange(subject),
  "/introspect": (subject) => postForm(auth, "/introspect", { token: subject }, app.client),
  "/revoke": (subject) => postForm(auth, "/revoke", { token: subject }, app.client),
};

describe.each([
  ["stalls", { kind: "hold" } as const],
  ["fails", { kind: "fail", status: 502 } as const],
])("when the store %s", (_name, fault) => {
  it("the token, introspection and revocation endpoints answer 503 temporarily_unavailable with Retry-After within the deadline", async () => {
    const subject = await clientCredentialsSubjectToken();
    const { refreshToken } = await seedRefreshFamily("app", { resource: [GATEWAY_RESOURCE], scope: "tools:read" });
    proxy.set(fault);
    try {
      for (const [name, request] of Object.entries(requests)) {
        await expectUnavailableJson(() => request(subject, refreshToken)).catch((err: Error) => {
          throw new Error(`${name}: ${err.message}`);
        });
      }
    } finally {
      await proxy.release();
    }
    // The stall over, the same requests work again.
    expect((await refresh(refreshToken)).status).toBe(200);
    expect((await exchange(subject)).status).toBe(200);
  });

  it("/authorize answers with a 503 page and Retry-After within the deadline", async () => {
    proxy.set(fault);
    try {
      await expectUnavailablePage(authorize);
    } finally {
      await proxy.release();
    }
    // The stall over, the request goes on to sign-in.
    expect((await authorize()).status).toBeLessThan(400);
  });
});

describe("a refresh rotated server-side during a stall", () => {
  it("is retried with the same refresh token and gets working tokens; the grant and the gateway session stay", async () => {
    const { refreshToken: first } = await seedRefreshFamily("app", {
      resource: [GATEWAY_RESOURCE],
      scope: "tools:read",
    });
    const before = await refreshed(first);
    const agent = withToken(gateway, before.access_token);
    const session = await openSession(agent);

    // Reads go through; the rotation script is held, so it runs only after the tier gave up.
    proxy.set({ kind: "hold" }, (body) => body.includes("aig:rf-retry:"));
    const stalled = await timed(() => refresh(before.refresh_token));
    expect(stalled.res.status).toBe(503);
    expect(stalled.ms).toBeLessThan(ANSWER_WITHIN_MS);
    expect(proxy.held()).toBe(1);
    await proxy.release(); // the rotation happens now, its answer lost

    // The client's ordinary retry, with the token it holds.
    const retried = await refreshed(before.refresh_token);
    // Its tokens work: the refresh token refreshes, the access token is active...
    const after = await refreshed(retried.refresh_token);
    const introspected = (await (
      await postForm(auth, "/introspect", { token: after.access_token }, app.client)
    ).json()) as { active: boolean };
    expect(introspected.active).toBe(true);
    // ...and the grant was not revoked: the session opened before the stall keeps working.
    const listed = await postOnSession(agent, session, { jsonrpc: "2.0", id: 2, method: "tools/list" });
    expect(listed.status).toBe(200);
    await vi.waitFor(async () =>
      expect(
        (
          await postOnSession(withToken(gateway, after.access_token), session, {
            jsonrpc: "2.0",
            id: 3,
            method: "tools/list",
          })
        ).status,
      ).toBe(200),
    );
  });

  it("a rotated-out token presented again after its successor was used is still a reuse and revokes the grant", async () => {
    const { refreshToken: first } = await seedRefreshFamily("app", {
      resource: [GATEWAY_RESOURCE],
      scope: "tools:read",
    });
    const second = await refreshed(first);
    await refreshed(second.refresh_token);
    const reused = await refresh(first);
    expect(reused.status).toBe(400);
    expect(((await reused.json()) as { error_description: string }).error_description).toMatch(/reuse/);
  });
});
