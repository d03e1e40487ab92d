// The UserInfo endpoint (OIDC Core §5.3): a Bearer-protected resource, so every refusal carries
// an RFC 6750 §3 Bearer challenge.
import { randomBytes } from "node:crypto";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, authConfig, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { discover, oauthError } from "../helpers/oauth-requests.js";
import {
  revokeAccessToken,
  sharedStore,
  signAccessToken,
  signWithUnknownKey,
  type AccessTokenFields,
} from "../helpers/tokens.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const client = { client_id: "app" };

describe("userinfo", () => {
  let auth: RunningWorker;
  let as: oauth.AuthorizationServer;
  /** A user of this run, with the claims the code grant saves at login. */
  const sub = `alice-${randomBytes(6).toString("base64url")}`;

  beforeAll(async () => {
    auth = await startAuthWorker({ config: (url) => authConfig(url) });
    as = await discover(auth);
    await sharedStore().saveUserClaims(sub, ALICE.config.claims, 60_000);
  });
  afterAll(() => auth.dispose());

  const accessToken = (fields: Partial<AccessTokenFields> = {}) =>
    signAccessToken(auth.url, { sub, client_id: "app", aud: GATEWAY_RESOURCE, scope: "openid", ...fields });

  const userinfo = (init: RequestInit = {}, query = "") => auth.fetch(`/userinfo${query}`, init);
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  it("returns the claims the token's scopes release (oauth4webapi)", async () => {
    const token = await accessToken({ scope: "openid profile email" });
    const res = await oauth.userInfoRequest(as, client, token, { [oauth.allowInsecureRequests]: true });
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const claims = await oauth.processUserInfoResponse(as, client, sub, res);
    expect(claims).toEqual({ sub, ...ALICE.config.claims });
  });

  it("returns only sub for the openid scope alone", async () => {
    const res = await userinfo({ headers: bearer(await accessToken()) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sub });
  });

  it("releases by scope: email without profile", async () => {
    const res = await userinfo({ headers: bearer(await accessToken({ scope: "openid email" })) });
    expect(await res.json()).toEqual({ sub, email: "alice@example.com", email_verified: true });
  });

  it("returns sub when no claims are known for the user", async () => {
    const res = await userinfo({
      headers: bearer(await accessToken({ sub: "nobody-known", scope: "openid profile" })),
    });
    expect(await res.json()).toEqual({ sub: "nobody-known" });
  });

  it("accepts POST with the token in the Authorization header", async () => {
    const res = await userinfo({ method: "POST", headers: bearer(await accessToken({ scope: "openid email" })) });
    expect((await res.json()) as object).toMatchObject({ sub, email: "alice@example.com" });
  });

  it("accepts POST with the token in a form body (RFC 6750 §2.2)", async () => {
    const res = await userinfo({
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ access_token: await accessToken() }).toString(),
    });
    expect(await res.json()).toEqual({ sub });
  });

  it("answers a token without the openid scope with 403 insufficient_scope", async () => {
    const res = await userinfo({ headers: bearer(await accessToken({ scope: "tools:read" })) });
    const error = await oauthError(res);
    expect(error).toMatchObject({ status: 403, error: "insufficient_scope" });
    expect(error.challenge).toMatch(/^Bearer error="insufficient_scope"/);
    expect(error.challenge).toContain('scope="openid"');
  });

  it.each([
    [
      "a revoked token",
      async () => {
        const token = await accessToken();
        await revokeAccessToken(token);
        return token;
      },
    ],
    ["a garbage token", async () => "garbage"],
    ["an expired token", () => accessToken({ ttlSec: -60 })],
    [
      "a token signed by an unknown key",
      () => signWithUnknownKey("x", { sub, client_id: "app", aud: GATEWAY_RESOURCE, scope: "openid" }),
    ],
    [
      "an ID token (typ JWT, not at+jwt)",
      () => signAccessToken(auth.url, { sub, client_id: "app", aud: "app", scope: "openid" }, { typ: "JWT" }),
    ],
  ])("answers %s with 401 invalid_token and a Bearer challenge", async (_, make) => {
    const error = await oauthError(await userinfo({ headers: bearer(await make()) }));
    expect(error).toMatchObject({ status: 401, error: "invalid_token" });
    expect(error.challenge).toMatch(/^Bearer error="invalid_token"/);
  });

  it.each([
    ["no Authorization header", {}],
    ["Basic credentials", { Authorization: "Basic YXBwOnNlY3JldA==" }],
  ])("answers %s with 401 and a bare Bearer challenge", async (_, headers) => {
    const error = await oauthError(await userinfo({ headers }));
    expect(error.status).toBe(401);
    expect(error.challenge).toBe("Bearer");
  });

  it("refuses a token in the query string with invalid_request", async () => {
    const error = await oauthError(await userinfo({}, `?access_token=${await accessToken()}`));
    expect(error).toMatchObject({ status: 400, error: "invalid_request" });
    expect(error.challenge).toMatch(/^Bearer error="invalid_request"/);
  });

  it("refuses a token sent both in the header and in the body with invalid_request", async () => {
    const token = await accessToken();
    const res = await userinfo({
      method: "POST",
      headers: { ...bearer(token), "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ access_token: token }).toString(),
    });
    expect(await oauthError(res)).toMatchObject({ status: 400, error: "invalid_request" });
  });

  it("refuses a malformed Bearer credential with invalid_request", async () => {
    const error = await oauthError(await userinfo({ headers: { Authorization: "Bearer two words" } }));
    expect(error).toMatchObject({ status: 400, error: "invalid_request" });
  });

  it("rejects an oversized body with 413", async () => {
    const res = await userinfo({
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: `access_token=${"x".repeat(70 * 1024)}`,
    });
    expect((await oauthError(res)).status).toBe(413);
  });
});
