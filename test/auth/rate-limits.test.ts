// Abuse limits (oidcProvider.rateLimits): dynamic client registration per client address, and
// failed logins per (username, client address), counted in Redis so every instance agrees; the
// address from CF-Connecting-IP, which the configuration here trusts (oidcProvider.clientAddress).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, authConfig } from "../helpers/auth-config.js";
import { authorizationParams, pkce } from "../helpers/authorization-request.js";
import { CookieJar, hiddenField, postForm, step } from "../helpers/login-flow.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const REDIRECT = "http://127.0.0.1:9/callback";
const PUBLIC_CLIENT = {
  name: "Test Agent",
  clientId: "agent-public",
  tokenEndpointAuthMethod: "none",
  redirectUris: [REDIRECT],
  grantTypes: ["authorization_code"],
  scopes: ["tools:read"],
};

let auth: RunningWorker;
beforeAll(async () => {
  auth = await startAuthWorker({
    config: (url) =>
      authConfig(url, {
        apps: [PUBLIC_CLIENT],
        login: { users: [ALICE.config] },
        rateLimits: { registration: { limit: 3, window: "1m" }, loginFailures: { limit: 2, window: "1m" } },
        // As on Cloudflare, where the platform sets it (test/security/rotating-client-address-escapes-rate-limits.test.ts: untrusted by default).
        clientAddress: { header: "CF-Connecting-IP" },
      }),
  });
});
afterAll(() => auth.dispose());

function register(address: string): Promise<Response> {
  return auth.fetch("/register", {
    method: "POST",
    headers: { "Content-Type": "application/json", "CF-Connecting-IP": address },
    body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" }),
  });
}

describe("dynamic client registration limit", () => {
  it("answers registrations over the limit with 429, Retry-After and an OAuth error, per client address", async () => {
    for (let i = 0; i < 3; i++) expect((await register("192.0.2.1")).status).toBe(201);
    const refused = await register("192.0.2.1");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(await refused.json()).toEqual({
      error: "temporarily_unavailable",
      error_description: expect.stringContaining("too many"),
    });
    // Another address has its own budget.
    expect((await register("192.0.2.2")).status).toBe(201);
  });
});

describe("failed login limit", () => {
  async function openLogin(address: string) {
    const { challenge } = await pkce();
    const jar = new CookieJar();
    const headers = { "CF-Connecting-IP": address };
    const start = await step(
      auth,
      jar,
      `/authorize?${new URLSearchParams(authorizationParams(PUBLIC_CLIENT.clientId, REDIRECT, challenge))}`,
      { headers },
    );
    const page = await step(auth, jar, start.location!.pathname + start.location!.search, { headers });
    return (password: string) =>
      step(
        auth,
        jar,
        "/login",
        postForm(
          {
            interaction: hiddenField(page.body, "interaction"),
            csrf: hiddenField(page.body, "csrf"),
            username: ALICE.username,
            password,
          },
          headers,
        ),
      );
  }

  it("locks a username out from an address after too many failures, even for the right password", async () => {
    const attempt = await openLogin("198.51.100.7");
    expect((await attempt("wrong-1")).res.status).toBe(401);
    expect((await attempt("wrong-2")).res.status).toBe(401);
    const locked = await attempt(ALICE.password);
    expect(locked.res.status).toBe(429);
    expect(locked.res.headers.get("Retry-After")).toMatch(/^\d+$/);
    expect(locked.body).toContain("Too many failed sign-in attempts");
    // The same user from elsewhere still signs in.
    const elsewhere = await openLogin("198.51.100.8");
    expect((await elsewhere(ALICE.password)).res.status).toBe(303);
  });
});
