// Password attempts on the login page as a browser (or a guesser scripting one) makes them:
// /authorize opens an interaction bound to the jar, then each attempt posts the login form.
// For the abuse-limit tests (test/security/*lockout*, *client-address*).
import { randomBytes } from "node:crypto";
import { ALICE } from "./auth-config.js";
import { authorizationParams, pkce } from "./authorization-request.js";
import { CookieJar, hiddenField, postForm, step, type Step } from "./login-flow.js";
import type { RunningWorker } from "./workers.js";

export const LOGIN_REDIRECT = "http://127.0.0.1:9/callback";
/** A first-party public client (no consent page), so a right password ends in the code redirect. */
export const LOGIN_CLIENT = {
  name: "Test Agent",
  clientId: "agent-public",
  tokenEndpointAuthMethod: "none",
  redirectUris: [LOGIN_REDIRECT],
  grantTypes: ["authorization_code"],
  scopes: ["tools:read", "tools:write"],
  skipConsent: true,
};

/**
 * A built-in user with a fresh random name and Alice's password ("correct horse"): counters in
 * the shared Redis are per username, so every test gets its own.
 */
export function freshUser(): { username: string; password: string; config: typeof ALICE.config } {
  const username = `user-${randomBytes(6).toString("hex")}`;
  return { username, password: ALICE.password, config: { ...ALICE.config, username } };
}

/** A random address from the benchmarking range 198.18.0.0/15 (RFC 2544), as a botnet would vary it. */
export function randomAddress(): string {
  const [a, b, c] = randomBytes(3);
  return `198.${18 + (a! & 1)}.${b}.${c}`;
}

/** Opens the login page in `jar` and returns a function posting one attempt to it. */
export async function openLogin(auth: RunningWorker, jar = new CookieJar(), headers: Record<string, string> = {}) {
  const { challenge } = await pkce();
  const start = await step(
    auth,
    jar,
    `/authorize?${new URLSearchParams(authorizationParams(LOGIN_CLIENT.clientId, LOGIN_REDIRECT, challenge))}`,
    { headers },
  );
  if (start.location?.pathname !== "/login")
    throw new Error(`expected the login page, got ${start.res.status} ${start.location ?? start.body.slice(0, 200)}`);
  const page = await step(auth, jar, start.location.pathname + start.location.search, { headers });
  const fields = { interaction: hiddenField(page.body, "interaction"), csrf: hiddenField(page.body, "csrf") };
  return (username: string, password: string): Promise<Step> =>
    step(auth, jar, "/login", postForm({ ...fields, username, password }, headers));
}

/** One attempt from a browser nobody has seen before (a fresh jar), optionally with extra headers. */
export async function attemptFromNewBrowser(
  auth: RunningWorker,
  username: string,
  password: string,
  headers: Record<string, string> = {},
): Promise<Step> {
  return (await openLogin(auth, new CookieJar(), headers))(username, password);
}

/** A jar holding only the named cookies of `from` (e.g. the device cookie after the session ended). */
export function jarWith(from: CookieJar, ...names: string[]): CookieJar {
  const jar = new CookieJar();
  const lines = names.flatMap((name) => (from.get(name) === undefined ? [] : [`${name}=${from.get(name)}`]));
  const headers = new Headers();
  for (const line of lines) headers.append("Set-Cookie", line);
  jar.store(new Response(null, { headers }));
  return jar;
}
