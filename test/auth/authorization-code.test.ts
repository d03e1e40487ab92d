// Authorization code + PKCE (OAuth 2.1 §4.1), driven by oauth4webapi as the client.
import { decodeJwt, decodeProtectedHeader } from "jose";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, authConfig, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { authorizationParams, pkce } from "../helpers/authorization-request.js";
import { authorize, CookieJar, postForm, step } from "../helpers/login-flow.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const CREDENTIALS = { username: ALICE.username, password: ALICE.password };
const REDIRECT = "http://127.0.0.1:9/callback";
const PUBLIC_CLIENT = {
  name: "Test Agent",
  clientId: "agent-public",
  tokenEndpointAuthMethod: "none",
  redirectUris: [REDIRECT, "https://agent.example/cb"],
  grantTypes: ["authorization_code", "refresh_token"],
  scopes: ["tools:read", "tools:write"],
};

let auth: RunningWorker;
let as: oauth.AuthorizationServer;
const client: oauth.Client = { client_id: PUBLIC_CLIENT.clientId };
const options = { [oauth.allowInsecureRequests]: true };

beforeAll(async () => {
  auth = await startAuthWorker({
    config: (url) => authConfig(url, { apps: [PUBLIC_CLIENT], login: { users: [ALICE.config] } }),
  });
  const issuer = new URL(auth.url);
  as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { ...options, algorithm: "oidc" }),
  );
});
afterAll(() => auth.dispose());

function authParams(challenge: string, extra: Record<string, string> = {}) {
  return authorizationParams(PUBLIC_CLIENT.clientId, REDIRECT, challenge, extra);
}

async function codeFor(challenge: string, extra: Record<string, string> = {}) {
  const { redirect } = await authorize(auth, authParams(challenge, extra), CREDENTIALS);
  return redirect;
}

async function redeem(redirect: URL, verifier: string, redirectUri = REDIRECT) {
  const params = oauth.validateAuthResponse(as, client, redirect, "st-1");
  const res = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.None(),
    params,
    redirectUri,
    verifier,
    options,
  );
  return oauth.processAuthorizationCodeResponse(as, client, res, { expectedNonce: "n-1", requireIdToken: true });
}

describe("authorization code flow with PKCE", () => {
  it("issues an RFC 9068 access token for the requested resource, a refresh token and an ID token", async () => {
    const { verifier, challenge } = await pkce();
    const redirect = await codeFor(challenge);
    expect(redirect.searchParams.get("iss")).toBe(auth.url);
    const tokens = await redeem(redirect, verifier);
    expect(tokens.token_type).toBe("bearer");
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ typ: "at+jwt", alg: "ES256" });
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      iss: auth.url,
      sub: "alice",
      aud: GATEWAY_RESOURCE,
      client_id: PUBLIC_CLIENT.clientId,
      scope: "openid profile email tools:read",
      // RFC 9068 §2.2.3.1: the user's groups, for resource servers' policies.
      groups: ["engineering"],
    });
    const idClaims = oauth.getValidatedIdTokenClaims(tokens)!;
    expect(idClaims).toMatchObject({
      sub: "alice",
      aud: PUBLIC_CLIENT.clientId,
      nonce: "n-1",
      email: "alice@example.com",
      name: "Alice Example",
    });
  });

  it("accepts a loopback redirect URI on another port (RFC 8252 §7.3)", async () => {
    const { verifier, challenge } = await pkce();
    const redirect = await codeFor(challenge, { redirect_uri: "http://127.0.0.1:53111/callback" });
    expect(redirect.origin).toBe("http://127.0.0.1:53111");
    await expect(redeem(redirect, verifier, "http://127.0.0.1:53111/callback")).resolves.toHaveProperty("access_token");
  });

  it("fails a replayed code with invalid_grant and revokes what the first redemption issued", async () => {
    const { verifier, challenge } = await pkce();
    const redirect = await codeFor(challenge);
    const first = await redeem(redirect, verifier);
    await expect(redeem(redirect, verifier)).rejects.toMatchObject({ error: "invalid_grant" });
    // The refresh token of the first redemption no longer works.
    const refresh = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), first.refresh_token!, options);
    await expect(oauth.processRefreshTokenResponse(as, client, refresh)).rejects.toMatchObject({
      error: "invalid_grant",
    });
  });

  it("refuses a wrong code_verifier with invalid_grant", async () => {
    const { challenge } = await pkce();
    const redirect = await codeFor(challenge);
    await expect(redeem(redirect, oauth.generateRandomCodeVerifier())).rejects.toMatchObject({
      error: "invalid_grant",
    });
  });

  it("refuses a token request without code_verifier", async () => {
    const { challenge } = await pkce();
    const redirect = await codeFor(challenge);
    const res = await auth.fetch(
      "/token",
      postForm({
        grant_type: "authorization_code",
        client_id: PUBLIC_CLIENT.clientId,
        code: redirect.searchParams.get("code")!,
        redirect_uri: REDIRECT,
      }),
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_request" });
  });

  it("refuses a redirect_uri at the token endpoint that differs from the authorization request", async () => {
    const { verifier, challenge } = await pkce();
    const redirect = await codeFor(challenge);
    await expect(redeem(redirect, verifier, "https://agent.example/cb")).rejects.toMatchObject({
      error: "invalid_grant",
    });
  });
});

describe("authorization request errors", () => {
  async function authorizeRaw(params: Record<string, string>) {
    return step(auth, new CookieJar(), `/authorize?${new URLSearchParams(params)}`);
  }

  it("renders a page, never a redirect, for an unregistered redirect_uri", async () => {
    const { challenge } = await pkce();
    const r = await authorizeRaw(authParams(challenge, { redirect_uri: "https://evil.example/cb" }));
    expect(r.res.status).toBe(400);
    expect(r.location).toBeUndefined();
    expect(r.res.headers.get("Content-Type")).toMatch(/text\/html/);
  });

  it("renders a page for an unknown client", async () => {
    const { challenge } = await pkce();
    const r = await authorizeRaw(authParams(challenge, { client_id: "nobody" }));
    expect(r.res.status).toBe(400);
    expect(r.location).toBeUndefined();
  });

  it.each([
    ["no code_challenge", { code_challenge: "" }, "invalid_request"],
    ["code_challenge_method plain", { code_challenge_method: "plain" }, "invalid_request"],
    ["response_type token", { response_type: "token" }, "unsupported_response_type"],
    ["an unknown scope", { scope: "openid admin:everything" }, "invalid_scope"],
    ["a resource not served here", { resource: "https://other.example/api" }, "invalid_target"],
  ])("redirects back with an error for %s, with state and iss", async (_name, extra, error) => {
    const { challenge } = await pkce();
    const r = await authorizeRaw(authParams(challenge, extra));
    expect(r.res.status).toBe(303);
    expect(r.location?.origin + r.location!.pathname).toBe(REDIRECT);
    expect(Object.fromEntries(r.location!.searchParams)).toMatchObject({ error, state: "st-1", iss: auth.url });
  });

  it("serves its pages unframeable, loading nothing from elsewhere, with no Referer, errors included (RFC 6819 §4.4.1.9)", async () => {
    const { challenge } = await pkce();
    const jar = new CookieJar();
    const start = await step(auth, jar, `/authorize?${new URLSearchParams(authParams(challenge))}`);
    const loginPage = await step(auth, jar, start.location!.pathname + start.location!.search);
    const errorPage = await authorizeRaw(authParams(challenge, { client_id: "nobody" }));
    for (const { res } of [loginPage, errorPage]) {
      expect(res.headers.get("Content-Type")).toMatch(/text\/html/);
      const csp = res.headers.get("Content-Security-Policy") ?? "";
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).not.toMatch(/script-src/);
      expect(res.headers.get("X-Frame-Options")).toBe("DENY");
      expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
      expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    }
  });

  it("leaves the endpoints browser-based clients read cross-origin readable (no Cross-Origin-Resource-Policy)", async () => {
    for (const path of ["/jwks", "/.well-known/oauth-authorization-server"]) {
      const res = await auth.fetch(path, { headers: { Origin: "https://inspector.example" } });
      expect(res.status).toBe(200);
      expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
      expect(res.headers.get("Cross-Origin-Resource-Policy")).toBeNull();
      await res.body?.cancel();
    }
  });

  it("sends access_denied when the user denies consent", async () => {
    const { challenge } = await pkce();
    const jar = new CookieJar();
    const start = await step(auth, jar, `/authorize?${new URLSearchParams(authParams(challenge))}`);
    const loginPage = await step(auth, jar, start.location!.pathname + start.location!.search);
    const field = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)![1]!;
    const afterLogin = await step(
      auth,
      jar,
      "/login",
      postForm({
        interaction: field(loginPage.body, "interaction"),
        csrf: field(loginPage.body, "csrf"),
        ...CREDENTIALS,
      }),
    );
    const consent = await step(auth, jar, afterLogin.location!.pathname + afterLogin.location!.search);
    const denied = await step(
      auth,
      jar,
      "/consent",
      postForm({
        interaction: field(consent.body, "interaction"),
        csrf: field(consent.body, "csrf"),
        decision: "deny",
      }),
    );
    expect(Object.fromEntries(denied.location!.searchParams)).toMatchObject({
      error: "access_denied",
      state: "st-1",
      iss: auth.url,
    });
  });
});

describe("login form", () => {
  async function openLogin() {
    const { challenge } = await pkce();
    const jar = new CookieJar();
    const start = await step(auth, jar, `/authorize?${new URLSearchParams(authParams(challenge))}`);
    const page = await step(auth, jar, start.location!.pathname + start.location!.search);
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(page.body)![1]!;
    return { jar, interaction: field("interaction"), csrf: field("csrf") };
  }

  it("answers a wrong password with 401 and the form again", async () => {
    const { jar, interaction, csrf } = await openLogin();
    const r = await step(auth, jar, "/login", postForm({ interaction, csrf, username: "alice", password: "wrong" }));
    expect(r.res.status).toBe(401);
    expect(r.body).toContain("not correct");
    expect(jar.get("maverics_session")).toBeUndefined();
  });

  it("refuses a post with a wrong CSRF token", async () => {
    const { jar, interaction } = await openLogin();
    const r = await step(auth, jar, "/login", postForm({ interaction, csrf: "forged", ...CREDENTIALS }));
    expect(r.res.status).toBe(400);
  });

  it("refuses a post from a browser that did not start the request (no binding cookie)", async () => {
    const { interaction, csrf } = await openLogin();
    const r = await step(auth, new CookieJar(), "/login", postForm({ interaction, csrf, ...CREDENTIALS }));
    expect(r.res.status).toBe(400);
  });

  it("refuses a post from another origin", async () => {
    const { jar, interaction, csrf } = await openLogin();
    const r = await step(
      auth,
      jar,
      "/login",
      postForm({ interaction, csrf, ...CREDENTIALS }, { Origin: "https://evil.example" }),
    );
    expect(r.res.status).toBe(400);
  });

  it("sets an HttpOnly, Secure, SameSite=Lax session cookie and reuses the session for the next request", async () => {
    const { challenge } = await pkce();
    const { jar } = await authorize(auth, authParams(challenge), CREDENTIALS);
    expect(jar.get("maverics_session")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const again = await step(auth, jar, `/authorize?${new URLSearchParams(authParams((await pkce()).challenge))}`);
    expect(again.location?.pathname).toBe("/consent");
  });
});
