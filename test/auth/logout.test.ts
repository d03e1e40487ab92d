// OpenID Connect RP-Initiated Logout 1.0 at /logout, against the real auth tier: every MUST the
// endpoint implements, and what an attacker tries (a foreign post_logout_redirect_uri, a hint from
// another client or forged, a forced sign-out without the person's confirmation).
import { createHash } from "node:crypto";
import { decodeJwt, generateKeyPair, importJWK, SignJWT, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, authConfig } from "../helpers/auth-config.js";
import { authorizationParams, pkce } from "../helpers/authorization-request.js";
import { authorizeAndRedeem, CookieJar, hiddenField, postForm, step, type Step } from "../helpers/login-flow.js";
import { signAccessToken, sharedStore, signingJwk } from "../helpers/tokens.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const COOKIE = "maverics_session";
const REDIRECT = "http://127.0.0.1:9/callback";
const AFTER = "https://app.example/signed-out";
const MALLORY = {
  username: "mallory",
  password: "correct horse",
  config: { ...ALICE.config, username: "mallory", claims: {} },
};
const APP = {
  name: "Web App",
  clientId: "web-app",
  tokenEndpointAuthMethod: "none",
  redirectUris: [REDIRECT],
  postLogoutRedirectUris: [AFTER],
  scopes: ["tools:read"],
};
const OTHER_APP = {
  ...APP,
  name: "Other App",
  clientId: "other-app",
  postLogoutRedirectUris: ["https://other.example/bye"],
};

let auth: RunningWorker;

beforeAll(async () => {
  auth = await startAuthWorker({
    config: (url) =>
      authConfig(url, {
        apps: [APP, OTHER_APP],
        login: { users: [ALICE.config, MALLORY.config] },
        session: { lifetime: "8h", idleTimeout: "1h" },
      }),
  });
});
afterAll(() => auth.dispose());

interface SignedIn {
  jar: CookieJar;
  idToken: string;
  refreshToken: string;
  sid: string;
}

/** Signs `user` in through `clientId` in the browser `jar` and redeems the code for an ID token. */
async function signIn(
  clientId = APP.clientId,
  user: { username: string; password: string } = ALICE,
  jar = new CookieJar(),
): Promise<SignedIn> {
  const { tokens } = await authorizeAndRedeem(
    auth,
    { clientId, redirectUri: REDIRECT, scope: "openid profile" },
    user,
    jar,
  );
  const { id_token: idToken, refresh_token: refreshToken } = tokens;
  return { jar, idToken, refreshToken, sid: createHash("sha256").update(jar.get(COOKIE)!).digest("base64url") };
}

function logout(jar: CookieJar, params: Record<string, string>): Promise<Step> {
  return step(auth, jar, `/logout?${new URLSearchParams(params)}`);
}

/** Where /authorize sends this browser first: /consent while signed in, /login when not. */
async function firstStop(jar: CookieJar): Promise<string> {
  const { challenge } = await pkce();
  const { location } = await step(
    auth,
    jar,
    `/authorize?${new URLSearchParams(authorizationParams(APP.clientId, REDIRECT, challenge))}`,
  );
  return location!.pathname;
}

const sessionRecord = (sid: string) => sharedStore().getSession(sid);

/** An ID token signed with the provider's own key, as mintIdToken signs one, with `claims` on top. */
async function ownIdToken(claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const jwk = signingJwk();
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: auth.url,
    sub: "alice",
    aud: APP.clientId,
    azp: APP.clientId,
    iat: now,
    exp: now + 60,
    auth_time: now,
    ...claims,
  })
    .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: "JWT", ...header })
    .sign(await importJWK(jwk, jwk.alg));
}

/** The confirmation form's fields, from the page that asks. */
function confirmation(page: Step): { logout: string; csrf: string } {
  expect(page.res.status).toBe(200);
  expect(page.body).toContain("Sign out?");
  return { logout: hiddenField(page.body, "logout"), csrf: hiddenField(page.body, "csrf") };
}

function expectSignedOutPage(page: Step): void {
  expect(page.res.status).toBe(200);
  expect(page.location).toBeUndefined();
  expect(page.body).toContain("You are signed out");
}

describe("discovery", () => {
  it("advertises the end_session_endpoint (§2.1)", async () => {
    const metadata = (await (await auth.fetch("/.well-known/openid-configuration")).json()) as Record<string, unknown>;
    expect(metadata.end_session_endpoint).toBe(`${auth.url}/logout`);
  });
});

describe("sign-out with an id_token_hint from the person's own session", () => {
  it("ends the session and its Redis record, clears the cookie, and returns to the registered URI with state", async () => {
    const alice = await signIn();
    expect(decodeJwt(alice.idToken).sid).toBe(alice.sid);
    expect(await sessionRecord(alice.sid)).not.toBeNull();
    const out = await logout(alice.jar, {
      id_token_hint: alice.idToken,
      post_logout_redirect_uri: AFTER,
      state: "st-9",
    });
    expect(out.res.status).toBe(303);
    expect(out.location?.href).toBe(`${AFTER}?state=st-9`);
    expect(out.res.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`))).toMatch(/Max-Age=0/i);
    expect(alice.jar.get(COOKIE)).toBeUndefined();
    expect(await sessionRecord(alice.sid)).toBeNull();
  });

  it("asks for sign-in again at the next authorization", async () => {
    const alice = await signIn();
    const cookie = alice.jar.get(COOKIE)!;
    await logout(alice.jar, { id_token_hint: alice.idToken });
    expect(await firstStop(alice.jar)).toBe("/login");
    // Nor does the old cookie, kept by a browser that ignored the removal, bring the session back.
    const stale = new CookieJar();
    stale.store(new Response(null, { headers: { "Set-Cookie": `${COOKIE}=${cookie}; Path=/` } }));
    expect(await firstStop(stale)).toBe("/login");
  });

  it("accepts the request as a form POST (§2), carried on as a GET so the session cookie comes along", async () => {
    const alice = await signIn();
    const posted = await step(
      auth,
      new CookieJar(),
      "/logout",
      postForm({ id_token_hint: alice.idToken, post_logout_redirect_uri: AFTER, state: "p" }),
    );
    expect(posted.res.status).toBe(303);
    expect(posted.location?.pathname).toBe("/logout");
    const out = await step(auth, alice.jar, posted.location!.href);
    expect(out.location?.href).toBe(`${AFTER}?state=p`);
    expect(await sessionRecord(alice.sid)).toBeNull();
  });

  it("accepts an expired ID token as the hint (§2: it still identifies the session and client)", async () => {
    const alice = await signIn();
    const now = Math.floor(Date.now() / 1000);
    const expired = await ownIdToken({ sid: alice.sid, iat: now - 7200, exp: now - 3600 });
    const out = await logout(alice.jar, { id_token_hint: expired, post_logout_redirect_uri: AFTER });
    expect(out.location?.href).toBe(AFTER);
    expect(await sessionRecord(alice.sid)).toBeNull();
  });

  it("accepts an ID token refreshed from the session's grant, which keeps the session's sid", async () => {
    const alice = await signIn();
    const res = await auth.fetch(
      "/token",
      postForm({ grant_type: "refresh_token", client_id: APP.clientId, refresh_token: alice.refreshToken }),
    );
    const { id_token: refreshed } = (await res.json()) as { id_token: string };
    expect(decodeJwt(refreshed).sid).toBe(alice.sid);
    const out = await logout(alice.jar, { id_token_hint: refreshed, post_logout_redirect_uri: AFTER });
    expect(out.location?.href).toBe(AFTER);
  });

  it("accepts client_id when it names the client the hint was issued to", async () => {
    const alice = await signIn();
    const out = await logout(alice.jar, {
      id_token_hint: alice.idToken,
      client_id: APP.clientId,
      post_logout_redirect_uri: AFTER,
    });
    expect(out.location?.href).toBe(AFTER);
  });
});

describe("post_logout_redirect_uri", () => {
  it("shows the signed-out page, never a redirect, for a URI the client did not register (§3)", async () => {
    for (const uri of [
      "https://evil.example/phish",
      `${AFTER}/`,
      `${AFTER}?next=https://evil.example`,
      OTHER_APP.postLogoutRedirectUris[0]!,
    ]) {
      const alice = await signIn();
      const out = await logout(alice.jar, { id_token_hint: alice.idToken, post_logout_redirect_uri: uri, state: "s" });
      expectSignedOutPage(out);
      expect(out.body).not.toContain("evil.example");
      // The sign-out itself stands: the hint was valid.
      expect(await sessionRecord(alice.sid)).toBeNull();
    }
  });

  it("shows the signed-out page when none is given", async () => {
    const alice = await signIn();
    expectSignedOutPage(await logout(alice.jar, { id_token_hint: alice.idToken }));
  });

  it("is not followed on client_id alone, without a hint", async () => {
    const alice = await signIn();
    const asked = await logout(alice.jar, { client_id: APP.clientId, post_logout_redirect_uri: AFTER });
    const done = await step(
      auth,
      alice.jar,
      "/logout/confirm",
      postForm({ ...confirmation(asked), decision: "logout" }),
    );
    expectSignedOutPage(done);
    expect(await sessionRecord(alice.sid)).toBeNull();
  });
});

describe("confirmation (§2, §6: no forced sign-out)", () => {
  it("asks the person when there is no id_token_hint, and ends the session only when they confirm", async () => {
    const alice = await signIn();
    const asked = await logout(alice.jar, {});
    const form = confirmation(asked);
    expect(asked.res.headers.get("Cache-Control")).toBe("no-store");
    expect(asked.res.headers.get("X-Frame-Options")).toBe("DENY");
    expect(await firstStop(alice.jar)).toBe("/consent");
    expectSignedOutPage(
      await step(auth, alice.jar, "/logout/confirm", postForm({ ...form, decision: "logout" }, { Origin: auth.url })),
    );
    expect(await sessionRecord(alice.sid)).toBeNull();
    expect(await firstStop(alice.jar)).toBe("/login");
  });

  it("keeps the session when the person chooses to stay signed in", async () => {
    const alice = await signIn();
    const form = confirmation(await logout(alice.jar, {}));
    const stay = await step(auth, alice.jar, "/logout/confirm", postForm({ ...form, decision: "stay" }));
    expect(stay.body).toContain("still signed in");
    expect(await firstStop(alice.jar)).toBe("/consent");
  });

  it("refuses a confirmation without its CSRF token, with a wrong one, from another origin, or twice", async () => {
    const alice = await signIn();
    const attempts: [Record<string, string>, Record<string, string>][] = [
      [{ logout: confirmation(await logout(alice.jar, {})).logout, decision: "logout" }, {}],
      [{ ...confirmation(await logout(alice.jar, {})), csrf: "x".repeat(43), decision: "logout" }, {}],
      [{ ...confirmation(await logout(alice.jar, {})), decision: "logout" }, { Origin: "https://evil.example" }],
    ];
    for (const [fields, headers] of attempts) {
      const refused = await step(auth, alice.jar, "/logout/confirm", postForm(fields, headers));
      expect(refused.res.status).toBe(400);
      expect(refused.location).toBeUndefined();
    }
    const form = confirmation(await logout(alice.jar, {}));
    await step(auth, alice.jar, "/logout/confirm", postForm({ ...form, decision: "stay" }));
    expect((await step(auth, alice.jar, "/logout/confirm", postForm({ ...form, decision: "logout" }))).res.status).toBe(
      400,
    );
    expect(await firstStop(alice.jar)).toBe("/consent");
  });

  it("refuses a confirmation form the attacker obtained for his own session, posted from the victim's browser", async () => {
    const alice = await signIn();
    const mallory = await signIn(APP.clientId, MALLORY);
    const form = confirmation(await logout(mallory.jar, {}));
    const forced = await step(auth, alice.jar, "/logout/confirm", postForm({ ...form, decision: "logout" }));
    expect(forced.res.status).toBe(400);
    expect(await firstStop(alice.jar)).toBe("/consent");
  });

  it("asks when the hint is another person's ID token, and then does not redirect", async () => {
    const alice = await signIn();
    const mallory = await signIn(APP.clientId, MALLORY);
    const asked = await logout(alice.jar, { id_token_hint: mallory.idToken, post_logout_redirect_uri: AFTER });
    const form = confirmation(asked);
    expect(await firstStop(alice.jar)).toBe("/consent");
    const done = await step(auth, alice.jar, "/logout/confirm", postForm({ ...form, decision: "logout" }));
    // A configured client's registered URI, vouched for by a valid hint: followed after the person agreed.
    expect(done.location?.href).toBe(AFTER);
    expect(await sessionRecord(alice.sid)).toBeNull();
  });

  it("asks when the hint comes from an earlier session of the same person", async () => {
    const earlier = await signIn();
    await logout(earlier.jar, { id_token_hint: earlier.idToken });
    const alice = await signIn(APP.clientId, ALICE, earlier.jar);
    confirmation(await logout(alice.jar, { id_token_hint: earlier.idToken }));
    expect(await firstStop(alice.jar)).toBe("/consent");
  });
});

describe("id_token_hint that is not an ID token of this provider (§4: as if not supplied)", () => {
  const forgeries: [string, () => Promise<string>][] = [
    [
      "signed by another key",
      async () => {
        const { privateKey } = await generateKeyPair("ES256");
        const now = Math.floor(Date.now() / 1000);
        return new SignJWT({ iss: auth.url, sub: "alice", aud: APP.clientId, iat: now, exp: now + 60 })
          .setProtectedHeader({ alg: "ES256", kid: signingJwk().kid, typ: "JWT" })
          .sign(privateKey);
      },
    ],
    [
      "with a modified payload",
      async () => {
        const [header, , signature] = (await ownIdToken({ sub: "mallory" })).split(".");
        return `${header}.${Buffer.from(JSON.stringify({ iss: auth.url, sub: "alice", aud: APP.clientId, iat: 1, exp: 9e9 })).toString("base64url")}.${signature}`;
      },
    ],
    [
      "unsigned (alg none)",
      async () =>
        `${Buffer.from(JSON.stringify({ alg: "none", kid: signingJwk().kid, typ: "JWT" })).toString("base64url")}.${Buffer.from(JSON.stringify({ iss: auth.url, sub: "alice", aud: APP.clientId, exp: 9e9, iat: 1 })).toString("base64url")}.`,
    ],
    ["from another issuer", () => ownIdToken({ iss: "https://other-issuer.example" })],
    [
      "an access token of the person",
      () => signAccessToken(auth.url, { sub: "alice", client_id: APP.clientId, aud: APP.clientId }),
    ],
    [
      "expired longer ago than any session lives",
      () => ownIdToken({ iat: 1, exp: Math.floor(Date.now() / 1000) - 9 * 3600 }),
    ],
    ["not a JWT at all", async () => "not-a-jwt"],
  ];
  for (const [what, forge] of forgeries) {
    it(`asks for confirmation and does not redirect when the hint is ${what}`, async () => {
      const alice = await signIn();
      const asked = await logout(alice.jar, { id_token_hint: await forge(), post_logout_redirect_uri: AFTER });
      const form = confirmation(asked);
      expect(await firstStop(alice.jar)).toBe("/consent");
      expectSignedOutPage(await step(auth, alice.jar, "/logout/confirm", postForm({ ...form, decision: "logout" })));
    });
  }
});

describe("client_id and the hint's client", () => {
  it("refuses a client_id that is not the client the hint was issued to (§2), ending nothing", async () => {
    const alice = await signIn();
    const out = await logout(alice.jar, {
      id_token_hint: alice.idToken,
      client_id: OTHER_APP.clientId,
      post_logout_redirect_uri: AFTER,
    });
    expect(out.res.status).toBe(400);
    expect(out.location).toBeUndefined();
    expect(await sessionRecord(alice.sid)).not.toBeNull();
  });

  it("does not send the person to another client's URI with a hint issued to a different client", async () => {
    const alice = await signIn(OTHER_APP.clientId);
    const out = await logout(alice.jar, { id_token_hint: alice.idToken, post_logout_redirect_uri: AFTER });
    expectSignedOutPage(out);
  });

  it("refuses an unknown client_id", async () => {
    const alice = await signIn();
    expect((await logout(alice.jar, { client_id: "nobody" })).res.status).toBe(400);
    expect(await firstStop(alice.jar)).toBe("/consent");
  });

  it("refuses a repeated parameter", async () => {
    const out = await step(auth, new CookieJar(), "/logout?state=a&state=b");
    expect(out.res.status).toBe(400);
  });
});

describe("without a session", () => {
  it("is no error (§4: logout is idempotent)", async () => {
    expectSignedOutPage(await logout(new CookieJar(), {}));
  });

  it("still returns a configured client's person to its registered URI when the hint is valid", async () => {
    const alice = await signIn();
    await logout(alice.jar, { id_token_hint: alice.idToken });
    const again = await logout(alice.jar, {
      id_token_hint: alice.idToken,
      post_logout_redirect_uri: AFTER,
      state: "z",
    });
    expect(again.location?.href).toBe(`${AFTER}?state=z`);
  });
});

describe("self-registered clients (RFC 7591 post_logout_redirect_uris)", () => {
  async function registerClient(metadata: Record<string, unknown>): Promise<Response> {
    return auth.fetch("/register", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(metadata),
    });
  }

  it("registers post_logout_redirect_uris and sends its person back there from their own session", async () => {
    const res = await registerClient({
      redirect_uris: [REDIRECT],
      post_logout_redirect_uris: ["https://agent.example/bye"],
      token_endpoint_auth_method: "none",
    });
    expect(res.status).toBe(201);
    const { client_id: clientId, post_logout_redirect_uris: registered } = (await res.json()) as {
      client_id: string;
      post_logout_redirect_uris: string[];
    };
    expect(registered).toEqual(["https://agent.example/bye"]);
    const alice = await signIn(clientId);
    const out = await logout(alice.jar, {
      id_token_hint: alice.idToken,
      post_logout_redirect_uri: "https://agent.example/bye",
      state: "r",
    });
    expect(out.location?.href).toBe("https://agent.example/bye?state=r");
  });

  it("does not let its own ID token turn this provider into an open redirector for anyone else", async () => {
    const res = await registerClient({
      redirect_uris: [REDIRECT],
      post_logout_redirect_uris: ["https://evil.example/landing"],
      token_endpoint_auth_method: "none",
    });
    const { client_id: clientId } = (await res.json()) as { client_id: string };
    const mallory = await signIn(clientId, MALLORY);
    const link = { id_token_hint: mallory.idToken, post_logout_redirect_uri: "https://evil.example/landing" };
    // A victim without a session, and one signed in as herself.
    expectSignedOutPage(await logout(new CookieJar(), link));
    const alice = await signIn();
    const form = confirmation(await logout(alice.jar, link));
    expectSignedOutPage(await step(auth, alice.jar, "/logout/confirm", postForm({ ...form, decision: "logout" })));
  });

  it("refuses a post_logout_redirect_uri that could not be a redirect URI", async () => {
    const res = await registerClient({
      redirect_uris: [REDIRECT],
      post_logout_redirect_uris: ["javascript:alert(1)"],
      token_endpoint_auth_method: "none",
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_client_metadata" });
  });
});
