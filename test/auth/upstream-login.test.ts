// Login through an upstream OpenID Provider: node-oidc-provider plays Okta / Entra / Keycloak,
// the auth tier is its relying party, and oauth4webapi is the auth tier's own client.
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, authConfig } from "../helpers/auth-config.js";
import { authorizationParams, pkce } from "../helpers/authorization-request.js";
import { CookieJar, hiddenField, postForm, step, type Step } from "../helpers/login-flow.js";
import { closedPort } from "../helpers/redis.js";
import { loginUpstream, startUpstreamIdp, type UpstreamIdp } from "../helpers/upstream-idp.js";
import { freePort, startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const REDIRECT = "http://127.0.0.1:9/callback";
const PUBLIC_CLIENT = {
  name: "Test Agent",
  clientId: "agent-public",
  tokenEndpointAuthMethod: "none",
  redirectUris: [REDIRECT],
  scopes: ["tools:read", "tools:write"],
};
const UPSTREAM_USER = "00u1upstream42";
const UPSTREAM_CLAIMS = {
  email: "carol@idp.example",
  email_verified: true,
  name: "Carol Upstream",
  preferred_username: "carol",
  groups: ["platform", "oncall"],
};

let idp: UpstreamIdp;
let auth: RunningWorker;
/** A port the IdP also accepts a callback on, for a second auth tier configured otherwise. */
let otherPort: number;
let as: oauth.AuthorizationServer;
const client: oauth.Client = { client_id: PUBLIC_CLIENT.clientId };
const options = { [oauth.allowInsecureRequests]: true };

function upstreamConfig(issuer: string) {
  return { issuer, clientId: idp.clientId, clientSecret: { env: "UPSTREAM_SECRET" }, name: "Sign in with Test IdP" };
}

beforeAll(async () => {
  // The IdP must know the callback before the auth tier starts, so the port is chosen first.
  const port = await freePort();
  otherPort = await freePort();
  idp = await startUpstreamIdp({
    redirectUris: [`http://127.0.0.1:${port}/login/callback`, `http://127.0.0.1:${otherPort}/login/callback`],
    accounts: { [UPSTREAM_USER]: UPSTREAM_CLAIMS },
  });
  auth = await startAuthWorker({
    port,
    config: (url) => authConfig(url, { apps: [PUBLIC_CLIENT], login: { upstream: upstreamConfig(idp.issuer) } }),
    bindings: { UPSTREAM_SECRET: idp.clientSecret },
  });
  const issuer = new URL(auth.url);
  as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { ...options, algorithm: "oidc" }),
  );
});
afterAll(async () => {
  await auth?.dispose();
  await idp?.close();
});

const authParams = (challenge: string) => authorizationParams(PUBLIC_CLIENT.clientId, REDIRECT, challenge);

/** /authorize → our login page → its upstream button: returns the upstream authorization URL. */
async function startUpstreamSignIn(worker: RunningWorker, challenge: string) {
  const jar = new CookieJar();
  const start = await step(worker, jar, `/authorize?${new URLSearchParams(authParams(challenge))}`);
  expect(start.location?.pathname).toBe("/login");
  const loginPage = await step(worker, jar, start.location!.pathname + start.location!.search);
  expect(loginPage.body).toContain("Sign in with Test IdP");
  const interaction = hiddenField(loginPage.body, "interaction");
  const toUpstream = await step(worker, jar, `/login/upstream?interaction=${interaction}`);
  return { jar, toUpstream };
}

async function callbackFromUpstream(challenge: string) {
  const { jar, toUpstream } = await startUpstreamSignIn(auth, challenge);
  expect(toUpstream.res.status).toBe(303);
  const callback = await loginUpstream(toUpstream.location!, UPSTREAM_USER);
  expect(callback.origin + callback.pathname).toBe(`${auth.url}/login/callback`);
  return { jar, callback };
}

/** Consent (allow) after a successful callback; returns the redirect to the client. */
async function consentAfter(callbackStep: Step, jar: CookieJar): Promise<URL> {
  expect(callbackStep.location?.pathname).toBe("/consent");
  const consent = await step(auth, jar, callbackStep.location!.pathname + callbackStep.location!.search);
  const done = await step(
    auth,
    jar,
    "/consent",
    postForm({
      interaction: hiddenField(consent.body, "interaction"),
      csrf: hiddenField(consent.body, "csrf"),
      decision: "allow",
    }),
  );
  return done.location!;
}

function expectErrorPage(r: Step, status: number, error: string) {
  expect(r.res.status).toBe(status);
  expect(r.location).toBeUndefined();
  expect(r.res.headers.get("Content-Type")).toMatch(/^text\/html/);
  expect(r.body).toContain(error);
  expect(r.body).not.toMatch(/at .+\(.+:\d+:\d+\)/); // no stack trace
}

describe("login through an upstream OpenID provider", () => {
  it("signs the user in upstream and issues our tokens for the upstream subject and claims", async () => {
    const { verifier, challenge } = await pkce();
    const { jar, callback } = await callbackFromUpstream(challenge);
    const afterCallback = await step(auth, jar, callback.pathname + callback.search);
    expect(jar.get("maverics_session")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const redirect = await consentAfter(afterCallback, jar);

    const params = oauth.validateAuthResponse(as, client, redirect, "st-1");
    const res = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.None(),
      params,
      REDIRECT,
      verifier,
      options,
    );
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, res, {
      expectedNonce: "n-1",
      requireIdToken: true,
    });
    expect(oauth.getValidatedIdTokenClaims(tokens)).toMatchObject({
      iss: auth.url,
      sub: UPSTREAM_USER,
      aud: PUBLIC_CLIENT.clientId,
      ...UPSTREAM_CLAIMS,
    });
  });

  it("sends the browser upstream with PKCE S256, state, nonce and our callback as redirect URI", async () => {
    const { toUpstream } = await startUpstreamSignIn(auth, (await pkce()).challenge);
    expect(toUpstream.res.status).toBe(303);
    expect(toUpstream.location!.origin + toUpstream.location!.pathname).toBe(`${idp.issuer}/auth`);
    expect(Object.fromEntries(toUpstream.location!.searchParams)).toMatchObject({
      client_id: idp.clientId,
      redirect_uri: `${auth.url}/login/callback`,
      response_type: "code",
      scope: "openid profile email",
      state: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      nonce: expect.any(String),
      code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      code_challenge_method: "S256",
    });
  });

  it("shows the user whom the upstream signed in on the consent page", async () => {
    const { challenge } = await pkce();
    const { jar, callback } = await callbackFromUpstream(challenge);
    const afterCallback = await step(auth, jar, callback.pathname + callback.search);
    const consent = await step(auth, jar, afterCallback.location!.pathname + afterCallback.location!.search);
    expect(consent.body).toContain("Signed in as <strong>carol</strong>");
  });

  it("keeps the session: the next authorization goes straight to consent", async () => {
    const { challenge } = await pkce();
    const { jar, callback } = await callbackFromUpstream(challenge);
    await step(auth, jar, callback.pathname + callback.search);
    const again = await step(auth, jar, `/authorize?${new URLSearchParams(authParams((await pkce()).challenge))}`);
    expect(again.location?.pathname).toBe("/consent");
  });

  it("fetches the upstream discovery document once, then serves it from the cache", async () => {
    const discoveries = () => idp.requests.filter((p) => p === "/.well-known/openid-configuration").length;
    const signIn = async () => {
      const { jar, callback } = await callbackFromUpstream((await pkce()).challenge);
      await step(auth, jar, callback.pathname + callback.search);
    };
    await signIn();
    const afterFirst = discoveries();
    await signIn();
    await signIn();
    expect(discoveries()).toBe(afterFirst);
    expect(afterFirst).toBeLessThanOrEqual(1);
  });
});

describe("upstream login failures end on our error page, never at the client", () => {
  it("refuses an upstream account whose sub is also a built-in user's, rather than making them one principal", async () => {
    const clashing = await startAuthWorker({
      port: otherPort,
      config: (url) =>
        authConfig(url, {
          apps: [PUBLIC_CLIENT],
          login: { upstream: upstreamConfig(idp.issuer), users: [{ ...ALICE.config, sub: UPSTREAM_USER }] },
        }),
      bindings: { UPSTREAM_SECRET: idp.clientSecret },
    });
    try {
      const { jar, toUpstream } = await startUpstreamSignIn(clashing, (await pkce()).challenge);
      const callback = await loginUpstream(toUpstream.location!, UPSTREAM_USER);
      const r = await step(clashing, jar, callback.pathname + callback.search);
      expectErrorPage(r, 409, "access_denied");
      expect(r.body).toContain("login.users[].sub");
      expect(jar.get("maverics_session")).toBeUndefined();
    } finally {
      await clashing.dispose();
    }
  });

  it("shows access_denied when the user cancels at the upstream", async () => {
    const { jar, toUpstream } = await startUpstreamSignIn(auth, (await pkce()).challenge);
    const callback = await loginUpstream(toUpstream.location!, UPSTREAM_USER, { abort: true });
    expect(callback.searchParams.get("error")).toBe("access_denied");
    const r = await step(auth, jar, callback.pathname + callback.search);
    expectErrorPage(r, 400, "access_denied");
    expect(jar.get("maverics_session")).toBeUndefined();
  });

  it("refuses a tampered state, and the genuine callback still works afterwards", async () => {
    const { jar, callback } = await callbackFromUpstream((await pkce()).challenge);
    const state = callback.searchParams.get("state")!;
    const tampered = new URL(callback);
    tampered.searchParams.set("state", (state[0] === "A" ? "B" : "A") + state.slice(1));
    expectErrorPage(await step(auth, jar, tampered.pathname + tampered.search), 400, "invalid_request");
    expect(jar.get("maverics_session")).toBeUndefined();
    expect((await step(auth, jar, callback.pathname + callback.search)).location?.pathname).toBe("/consent");
  });

  it("refuses a replayed callback", async () => {
    const { jar, callback } = await callbackFromUpstream((await pkce()).challenge);
    expect((await step(auth, jar, callback.pathname + callback.search)).location?.pathname).toBe("/consent");
    expectErrorPage(await step(auth, jar, callback.pathname + callback.search), 400, "invalid_request");
  });

  it("refuses a callback in a browser that did not start the sign-in (login CSRF)", async () => {
    const { callback } = await callbackFromUpstream((await pkce()).challenge);
    const victim = new CookieJar();
    expectErrorPage(await step(auth, victim, callback.pathname + callback.search), 400, "invalid_request");
    expect(victim.get("maverics_session")).toBeUndefined();
  });

  it("refuses to start without a sign-in request bound to this browser", async () => {
    const { challenge } = await pkce();
    const jar = new CookieJar();
    const start = await step(auth, jar, `/authorize?${new URLSearchParams(authParams(challenge))}`);
    const interaction = start.location!.searchParams.get("interaction")!;
    expectErrorPage(
      await step(auth, new CookieJar(), `/login/upstream?interaction=${interaction}`),
      400,
      "invalid_request",
    );
  });

  it("shows a 502 page when the upstream cannot be reached", async () => {
    const nobody = `http://127.0.0.1:${await closedPort()}`;
    const worker = await startAuthWorker({
      config: (url) => authConfig(url, { apps: [PUBLIC_CLIENT], login: { upstream: upstreamConfig(nobody) } }),
      bindings: { UPSTREAM_SECRET: "unused" },
    });
    try {
      const { toUpstream } = await startUpstreamSignIn(worker, (await pkce()).challenge);
      expectErrorPage(toUpstream, 502, "temporarily_unavailable");
    } finally {
      await worker.dispose();
    }
  });
});

describe("signing in upstream for the Connected agents page", () => {
  it("returns the person to the page, as their upstream identity, with the grants they gave", async () => {
    // A grant of the upstream person to the test agent, as the first spec gives one.
    const { verifier, challenge } = await pkce();
    const first = await callbackFromUpstream(challenge);
    const redirect = await consentAfter(
      await step(auth, first.jar, first.callback.pathname + first.callback.search),
      first.jar,
    );
    const params = oauth.validateAuthResponse(as, client, redirect, "st-1");
    const redeemed = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.None(),
      params,
      REDIRECT,
      verifier,
      options,
    );
    expect(redeemed.status).toBe(200);

    // Another browser, not signed in, opens the page and chooses the upstream provider.
    const jar = new CookieJar();
    const start = await step(auth, jar, "/account/agents");
    expect(start.location?.pathname).toBe("/login");
    const loginPage = await step(auth, jar, start.location!.pathname + start.location!.search);
    expect(loginPage.body).toContain("Sign in with Test IdP");
    const toUpstream = await step(
      auth,
      jar,
      `/login/upstream?interaction=${hiddenField(loginPage.body, "interaction")}`,
    );
    expect(toUpstream.res.status).toBe(303);
    const callback = await loginUpstream(toUpstream.location!, UPSTREAM_USER);
    const back = await step(auth, jar, callback.pathname + callback.search);
    expect(back.res.status).toBe(303);
    expect(back.res.headers.get("Location")).toBe("/account/agents");

    const page = await step(auth, jar, "/account/agents");
    expect(page.res.status).toBe(200);
    expect(page.body).toContain("Signed in as <strong>carol</strong>");
    expect(page.body).toContain("<h2>Test Agent</h2>");
    expect(page.body).toContain("Set up by the operator");
  });
});
