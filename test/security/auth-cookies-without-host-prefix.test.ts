// Attack: the auth tier's cookies (login session, interaction binding, device cookie) had plain
// names, so anything that can set a cookie for the auth host (a sibling subdomain, a plain-http
// response on the path) could plant a session or an interaction binding (login fixation). With
// an https issuer they are `__Host-` cookies (RFC 6265bis §4.1.3.2: Secure, Path=/, no Domain),
// and only those names are read; a plain-http issuer (local runs) keeps the plain names.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authConfig } from "../helpers/auth-config.js";
import { authorizationParams, pkce } from "../helpers/authorization-request.js";
import { freshUser, jarWith, LOGIN_CLIENT, LOGIN_REDIRECT } from "../helpers/login-attempts.js";
import { CookieJar, hiddenField, postForm, step, type Step } from "../helpers/login-flow.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const ISSUER = "https://auth.example.test";
const user = freshUser();
let auth: RunningWorker;

beforeAll(async () => {
  // Reached over plain http here; only the configured issuer says the deployment is https.
  auth = await startAuthWorker({
    config: authConfig(ISSUER, { apps: [LOGIN_CLIENT], login: { users: [user.config] } }),
  });
});
afterAll(() => auth.dispose());

/** Every Set-Cookie line of a sign-in from a new browser, and where it ended. */
async function signIn(jar: CookieJar): Promise<{ setCookies: string[]; last: Step }> {
  const { challenge } = await pkce();
  const setCookies: string[] = [];
  const keep = (s: Step) => (setCookies.push(...s.res.headers.getSetCookie()), s);
  const start = keep(
    await step(
      auth,
      jar,
      `/authorize?${new URLSearchParams(authorizationParams(LOGIN_CLIENT.clientId, LOGIN_REDIRECT, challenge))}`,
    ),
  );
  if (start.location?.pathname !== "/login") return { setCookies, last: start };
  const page = keep(await step(auth, jar, start.location.pathname + start.location.search));
  const last = keep(
    await step(
      auth,
      jar,
      "/login",
      postForm({
        interaction: hiddenField(page.body, "interaction"),
        csrf: hiddenField(page.body, "csrf"),
        username: user.username,
        password: user.password,
      }),
    ),
  );
  return { setCookies, last };
}

function attributes(line: string): { name: string; attrs: string[] } {
  const [pair, ...attrs] = line.split(";").map((p) => p.trim());
  return { name: pair!.slice(0, pair!.indexOf("=")), attrs: attrs.map((a) => a.toLowerCase()) };
}

describe("an auth tier with an https issuer", () => {
  it("sets only __Host- cookies (Secure, Path=/, no Domain), and signs the user in with them", async () => {
    const jar = new CookieJar();
    const { setCookies, last } = await signIn(jar);
    expect(last.res.status).toBe(303);
    expect(last.location?.searchParams.get("code")).toEqual(expect.any(String));
    const names = new Set(setCookies.map((l) => attributes(l).name));
    expect(names).toEqual(new Set(["__Host-aig_interaction", "__Host-maverics_session", "__Host-aig_device"]));
    for (const line of setCookies) {
      const { attrs } = attributes(line);
      expect(attrs).toContain("secure");
      expect(attrs).toContain("path=/");
      expect(attrs.some((a) => a.startsWith("domain="))).toBe(false);
    }
    // The session cookie, replayed, is the login: the next authorization needs no password.
    const again = await signIn(jar);
    expect(again.last.res.status).toBe(303);
    expect(again.last.location?.origin + again.last.location!.pathname).toBe(LOGIN_REDIRECT);
  });

  it("ignores a session cookie planted under the plain name", async () => {
    const jar = new CookieJar();
    await signIn(jar);
    const session = jar.get("__Host-maverics_session");
    expect(session).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const planted = new CookieJar();
    planted.store(new Response(null, { headers: { "Set-Cookie": `maverics_session=${session}` } }));
    const { challenge } = await pkce();
    const start = await step(
      auth,
      planted,
      `/authorize?${new URLSearchParams(authorizationParams(LOGIN_CLIENT.clientId, LOGIN_REDIRECT, challenge))}`,
    );
    expect(start.location?.pathname).toBe("/login");
    // And the real one still works on its own.
    const real = jarWith(jar, "__Host-maverics_session");
    const ok = await step(
      auth,
      real,
      `/authorize?${new URLSearchParams(authorizationParams(LOGIN_CLIENT.clientId, LOGIN_REDIRECT, challenge))}`,
    );
    expect(ok.location?.origin + ok.location!.pathname).toBe(LOGIN_REDIRECT);
  });
});
