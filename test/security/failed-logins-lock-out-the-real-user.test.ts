// Attack: ten wrong passwords for someone else's username (with no client address known, every
// caller shared one bucket) locked the real user out of their own account. Lockout now follows
// OWASP's device cookies (Authentication Cheat Sheet, "Account Lockout"; src/auth/ui/device-cookie.ts):
// a browser that signed in as a user carries a device cookie signed by the provider; failures
// from unknown browsers lock out unknown browsers only, and a known browser has its own budget.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authConfig } from "../helpers/auth-config.js";
import { attemptFromNewBrowser, freshUser, jarWith, LOGIN_CLIENT, openLogin } from "../helpers/login-attempts.js";
import { CookieJar } from "../helpers/login-flow.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const DEVICE_COOKIE = "aig_device";
const alice = freshUser();
const bob = freshUser();
let auth: RunningWorker;

beforeAll(async () => {
  auth = await startAuthWorker({
    config: (url) =>
      authConfig(url, {
        apps: [LOGIN_CLIENT],
        login: { users: [alice.config, bob.config] },
        rateLimits: { loginFailures: { limit: 3, window: "1m" } },
      }),
  });
});
afterAll(() => auth.dispose());

/** Signs `user` in from a new browser and returns that browser with only its device cookie kept (the session over). */
async function browserThatSignedIn(user: { username: string; password: string }): Promise<CookieJar> {
  const jar = new CookieJar();
  const signedIn = await (await openLogin(auth, jar))(user.username, user.password);
  expect(signedIn.res.status).toBe(303);
  return jarWith(jar, DEVICE_COOKIE);
}

async function lockOutUnknownBrowsers(username: string): Promise<void> {
  for (let i = 0; i < 3; i++) expect((await attemptFromNewBrowser(auth, username, `guess-${i}`)).res.status).toBe(401);
  expect((await attemptFromNewBrowser(auth, username, alice.password)).res.status).toBe(429);
}

describe("login lockout", () => {
  it("lets the user sign in from a browser they signed in with before, after an attacker's failures locked out unknown browsers", async () => {
    const browser = await browserThatSignedIn(alice);
    await lockOutUnknownBrowsers(alice.username);
    expect(browser.get(DEVICE_COOKIE)).toEqual(expect.any(String));
    const signIn = await (await openLogin(auth, browser))(alice.username, alice.password);
    expect(signIn.res.status).toBe(303);
    expect(signIn.location?.searchParams.get("code")).toEqual(expect.any(String));
  });

  it("gives a known browser its own small failure budget, then locks it too", async () => {
    const user = freshUser();
    const restart = await startAuthWorkerFor(user);
    try {
      const jar = new CookieJar();
      expect((await (await openLogin(restart, jar))(user.username, user.password)).res.status).toBe(303);
      const attempt = await openLogin(restart, jarWith(jar, DEVICE_COOKIE));
      expect((await attempt(user.username, "typo-1")).res.status).toBe(401);
      expect((await attempt(user.username, "typo-2")).res.status).toBe(401);
      expect((await attempt(user.username, user.password)).res.status).toBe(429);
      // Its failures are its own: unknown browsers are not locked out by them.
      expect((await attemptFromNewBrowser(restart, user.username, user.password)).res.status).toBe(303);
    } finally {
      await restart.dispose();
    }
  });

  it("does not let another user's device cookie past the lockout", async () => {
    const bobsBrowser = await browserThatSignedIn(bob);
    const victim = freshUser();
    const other = await startAuthWorkerFor(victim, bob);
    try {
      for (let i = 0; i < 3; i++)
        expect((await attemptFromNewBrowser(other, victim.username, `guess-${i}`)).res.status).toBe(401);
      // bob's cookie is from another tier (another issuer) and for another user: an unknown browser here.
      expect(
        (await (await openLogin(other, jarWith(bobsBrowser, DEVICE_COOKIE)))(victim.username, victim.password)).res
          .status,
      ).toBe(429);
      const bobHere = new CookieJar();
      expect((await (await openLogin(other, bobHere))(bob.username, bob.password)).res.status).toBe(303);
      expect(
        (await (await openLogin(other, jarWith(bobHere, DEVICE_COOKIE)))(victim.username, victim.password)).res.status,
      ).toBe(429);
    } finally {
      await other.dispose();
    }
  });

  it("treats a device cookie the provider did not sign as an unknown browser", async () => {
    await lockOutUnknownBrowsers(bob.username);
    const forged = new CookieJar();
    const headers = new Headers({ "Set-Cookie": `${DEVICE_COOKIE}=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.` });
    forged.store(new Response(null, { headers }));
    expect((await (await openLogin(auth, forged))(bob.username, bob.password)).res.status).toBe(429);
  });
});

function startAuthWorkerFor(...users: { config: unknown }[]): Promise<RunningWorker> {
  return startAuthWorker({
    config: (url) =>
      authConfig(url, {
        apps: [LOGIN_CLIENT],
        login: { users: users.map((u) => u.config) },
        rateLimits: { loginFailures: { limit: 3, window: "1m", deviceLimit: 2 } },
      }),
  });
}
