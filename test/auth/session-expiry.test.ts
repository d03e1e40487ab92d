// Sign-in sessions end (docs/auth/sign-in-sessions.md): left idle past `session.idleTimeout`, or
// older than `session.lifetime` however busy, a session asks the person to sign in again. Driven
// against the real auth tier with durations of seconds; the tests wait for conditions, never time them.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ALICE, authConfig } from "../helpers/auth-config.js";
import { authorizationParams, pkce } from "../helpers/authorization-request.js";
import { authorize, CookieJar, step } from "../helpers/login-flow.js";
import { sharedStore } from "../helpers/tokens.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const COOKIE = "maverics_session";
const REDIRECT = "http://127.0.0.1:9/callback";
const IDLE_MS = 3_000;
const LIFETIME_MS = 7_000;
const APP = {
  name: "Web App",
  clientId: "web-app",
  tokenEndpointAuthMethod: "none",
  redirectUris: [REDIRECT],
  scopes: ["tools:read"],
};

let auth: RunningWorker;

beforeAll(async () => {
  auth = await startAuthWorker({
    config: (url) =>
      authConfig(url, {
        apps: [APP],
        login: { users: [ALICE.config] },
        session: { idleTimeout: `${IDLE_MS / 1000}s`, lifetime: `${LIFETIME_MS / 1000}s` },
      }),
  });
});
afterAll(() => auth.dispose());

async function signIn(): Promise<{ jar: CookieJar; sid: string }> {
  const { challenge } = await pkce();
  const { redirect, jar } = await authorize(auth, authorizationParams(APP.clientId, REDIRECT, challenge), ALICE);
  expect(redirect.searchParams.get("code")).toBeTruthy();
  return { jar, sid: createHash("sha256").update(jar.get(COOKIE)!).digest("base64url") };
}

/** Where /authorize sends this browser first (a use of the session): /consent while signed in, /login when not. */
async function firstStop(jar: CookieJar): Promise<string> {
  const { challenge } = await pkce();
  const { location } = await step(
    auth,
    jar,
    `/authorize?${new URLSearchParams(authorizationParams(APP.clientId, REDIRECT, challenge))}`,
  );
  return location!.pathname;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("sign-in sessions that end", () => {
  it("asks for sign-in again once the session was left idle past its idle timeout", async () => {
    const { jar, sid } = await signIn();
    expect(await firstStop(jar)).toBe("/consent");
    // Not touching the session (only Redis is asked) until its record is gone.
    await vi.waitFor(async () => expect(await sharedStore().getSession(sid)).toBeNull(), {
      timeout: IDLE_MS + 5_000,
      interval: 100,
    });
    expect(await firstStop(jar)).toBe("/login");
  });

  it("keeps a session in use past its idle timeout, but never past its lifetime", async () => {
    const signedIn = Date.now();
    const { jar } = await signIn();
    // Used five times per idle timeout (the pause is the use's cadence), for longer than it: still signed in.
    while (Date.now() - signedIn < IDLE_MS * 1.5) {
      expect(await firstStop(jar)).toBe("/consent");
      await pause(IDLE_MS / 5);
    }
    // Still used as often, it ends anyway at the lifetime.
    await vi.waitFor(async () => expect(await firstStop(jar)).toBe("/login"), {
      timeout: LIFETIME_MS + 5_000,
      interval: 100,
    });
  });

  it("replaces the browser's session when the person signs in again (prompt=login), ending the old one", async () => {
    const first = await signIn();
    const { challenge } = await pkce();
    const { redirect, jar } = await authorize(
      auth,
      authorizationParams(APP.clientId, REDIRECT, challenge, { prompt: "login" }),
      ALICE,
      first.jar,
    );
    expect(redirect.searchParams.get("code")).toBeTruthy();
    const sid = createHash("sha256").update(jar.get(COOKIE)!).digest("base64url");
    expect(sid).not.toBe(first.sid);
    expect(await sharedStore().getSession(first.sid)).toBeNull();
    expect(await sharedStore().getSession(sid)).not.toBeNull();
  });
});
