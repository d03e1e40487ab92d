// Attack: the registration limit and the login lockout were keyed on CF-Connecting-IP exactly as
// the client sent it, so a guesser sending a new value with every request was never limited.
// A client-address header counts only when the operator says the platform sets it
// (oidcProvider.clientAddress.header, docs/configuration.md);
// otherwise the address is unknown and the limits fall back to per-username and per-tier buckets.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authConfig } from "../helpers/auth-config.js";
import {
  attemptFromNewBrowser,
  freshUser,
  LOGIN_CLIENT,
  LOGIN_REDIRECT,
  randomAddress,
} from "../helpers/login-attempts.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const LIMITS = { registration: { limit: 3, window: "1m" }, loginFailures: { limit: 3, window: "1m" } };

function register(auth: RunningWorker, address: string): Promise<Response> {
  return auth.fetch("/register", {
    method: "POST",
    headers: { "Content-Type": "application/json", "CF-Connecting-IP": address },
    body: JSON.stringify({ redirect_uris: [LOGIN_REDIRECT], token_endpoint_auth_method: "none" }),
  });
}

describe("an auth tier that trusts no client-address header (the default)", () => {
  const victim = freshUser();
  let auth: RunningWorker;
  beforeAll(async () => {
    auth = await startAuthWorker({
      config: (url) => authConfig(url, { apps: [LOGIN_CLIENT], login: { users: [victim.config] }, rateLimits: LIMITS }),
    });
  });
  afterAll(() => auth.dispose());

  it("locks out a password guesser who sends a new CF-Connecting-IP with every attempt", async () => {
    for (let i = 0; i < 3; i++) {
      expect(
        (await attemptFromNewBrowser(auth, victim.username, `guess-${i}`, { "CF-Connecting-IP": randomAddress() })).res
          .status,
      ).toBe(401);
    }
    const locked = await attemptFromNewBrowser(auth, victim.username, victim.password, {
      "CF-Connecting-IP": randomAddress(),
    });
    expect(locked.res.status).toBe(429);
    expect(locked.res.headers.get("Retry-After")).toMatch(/^\d+$/);
  });

  it("refuses registrations over the limit however the CF-Connecting-IP header varies", async () => {
    for (let i = 0; i < 3; i++) expect((await register(auth, randomAddress())).status).toBe(201);
    const refused = await register(auth, randomAddress());
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: "temporarily_unavailable" });
  });
});

describe("an auth tier told that the platform sets CF-Connecting-IP", () => {
  const victim = freshUser();
  const sprayed = freshUser();
  let auth: RunningWorker;
  beforeAll(async () => {
    auth = await startAuthWorker({
      config: (url) =>
        authConfig(url, {
          apps: [LOGIN_CLIENT],
          login: { users: [victim.config, sprayed.config] },
          rateLimits: { ...LIMITS, loginFailures: { ...LIMITS.loginFailures, usernameLimit: 5 } },
          clientAddress: { header: "CF-Connecting-IP" },
        }),
    });
  });
  afterAll(() => auth.dispose());

  it("locks out the address the failures came from, and lets the user sign in from another", async () => {
    const attacker = { "CF-Connecting-IP": randomAddress() };
    for (let i = 0; i < 3; i++)
      expect((await attemptFromNewBrowser(auth, victim.username, `guess-${i}`, attacker)).res.status).toBe(401);
    expect((await attemptFromNewBrowser(auth, victim.username, victim.password, attacker)).res.status).toBe(429);
    const user = await attemptFromNewBrowser(auth, victim.username, victim.password, {
      "CF-Connecting-IP": randomAddress(),
    });
    expect(user.res.status).toBe(303);
    expect(user.location?.searchParams.get("code")).toEqual(expect.any(String));
  });

  it("still caps one username's failures across many addresses", async () => {
    for (let i = 0; i < 5; i++)
      expect(
        (await attemptFromNewBrowser(auth, sprayed.username, `guess-${i}`, { "CF-Connecting-IP": randomAddress() })).res
          .status,
      ).toBe(401);
    expect(
      (await attemptFromNewBrowser(auth, sprayed.username, sprayed.password, { "CF-Connecting-IP": randomAddress() }))
        .res.status,
    ).toBe(429);
  });

  it("counts registrations per address", async () => {
    const busy = randomAddress();
    for (let i = 0; i < 3; i++) expect((await register(auth, busy)).status).toBe(201);
    expect((await register(auth, busy)).status).toBe(429);
    expect((await register(auth, randomAddress())).status).toBe(201);
  });
});
