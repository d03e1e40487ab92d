// An authorization code is checked against its binding (client, redirect_uri, PKCE verifier,
// OAuth 2.1 §4.1.3) before it is consumed, and then consumed atomically. Someone who intercepted
// a code but cannot complete it must not be able to burn it for its rightful client, nor, once it
// was redeemed, to revoke the tokens it issued: only a replay by the code's own client (correct
// binding, code already used) counts as replay (RFC 6749 §4.1.2, §10.5).
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, authConfig } from "../helpers/auth-config.js";
import { authorizationParams, pkce } from "../helpers/authorization-request.js";
import { authorize } from "../helpers/login-flow.js";
import { oauthError, postForm } from "../helpers/oauth-requests.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const REDIRECT = "http://127.0.0.1:9/callback";
const OTHER_REDIRECT = "http://127.0.0.1:9/other";
const publicClient = (clientId: string) => ({
  name: clientId,
  clientId,
  tokenEndpointAuthMethod: "none",
  scopes: ["tools:read", "tools:write"],
  redirectUris: [REDIRECT, OTHER_REDIRECT],
  grantTypes: ["authorization_code", "refresh_token"],
});
const RIGHTFUL = publicClient("rightful-agent");
const INTERCEPTOR = publicClient("intercepting-agent");

describe("an attacker who intercepted an authorization code", () => {
  let auth: RunningWorker;

  beforeAll(async () => {
    auth = await startAuthWorker({
      config: (url) => authConfig(url, { apps: [RIGHTFUL, INTERCEPTOR], login: { users: [ALICE.config] } }),
    });
  });
  afterAll(() => auth.dispose());

  /** A fresh code for the rightful client, and the verifier only that client knows. */
  async function issuedCode(): Promise<{ code: string; verifier: string }> {
    const { verifier, challenge } = await pkce();
    const { redirect } = await authorize(auth, authorizationParams(RIGHTFUL.clientId, REDIRECT, challenge), {
      username: ALICE.username,
      password: ALICE.password,
    });
    return { code: redirect.searchParams.get("code")!, verifier };
  }

  const redeem = (code: string, verifier: string, clientId = RIGHTFUL.clientId, redirectUri = REDIRECT) =>
    postForm(auth, "/token", {
      grant_type: "authorization_code",
      client_id: clientId,
      code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
    });

  async function redeemed(code: string, verifier: string) {
    const res = await redeem(code, verifier);
    expect(res.status).toBe(200);
    return (await res.json()) as { access_token: string; refresh_token: string };
  }

  /** The tokens work: the access token at /userinfo, the refresh token at /token. */
  async function expectTokensWork(tokens: { access_token: string; refresh_token: string }) {
    const userinfo = await auth.fetch("/userinfo", { headers: { Authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status).toBe(200);
    const refreshed = await postForm(auth, "/token", {
      grant_type: "refresh_token",
      client_id: RIGHTFUL.clientId,
      refresh_token: tokens.refresh_token,
    });
    expect(refreshed.status).toBe(200);
  }

  it("gets invalid_grant with a wrong verifier, and the rightful client still redeems the code", async () => {
    const { code, verifier } = await issuedCode();
    expect(await oauthError(await redeem(code, oauth.generateRandomCodeVerifier()))).toMatchObject({
      status: 400,
      error: "invalid_grant",
    });
    await expectTokensWork(await redeemed(code, verifier));
  });

  it("gets invalid_grant as another client, even with the right verifier, and does not burn the code", async () => {
    const { code, verifier } = await issuedCode();
    expect(await oauthError(await redeem(code, verifier, INTERCEPTOR.clientId))).toMatchObject({
      status: 400,
      error: "invalid_grant",
    });
    await expectTokensWork(await redeemed(code, verifier));
  });

  it("gets invalid_grant with another redirect_uri, and does not burn the code", async () => {
    const { code, verifier } = await issuedCode();
    expect(await oauthError(await redeem(code, verifier, RIGHTFUL.clientId, OTHER_REDIRECT))).toMatchObject({
      status: 400,
      error: "invalid_grant",
    });
    await expectTokensWork(await redeemed(code, verifier));
  });

  it("cannot revoke the rightful client's tokens with a bogus attempt after the redemption", async () => {
    const { code, verifier } = await issuedCode();
    const tokens = await redeemed(code, verifier);
    expect(await oauthError(await redeem(code, oauth.generateRandomCodeVerifier()))).toMatchObject({
      status: 400,
      error: "invalid_grant",
    });
    expect(await oauthError(await redeem(code, verifier, INTERCEPTOR.clientId))).toMatchObject({
      status: 400,
      error: "invalid_grant",
    });
    expect(await oauthError(await redeem(code, verifier, RIGHTFUL.clientId, OTHER_REDIRECT))).toMatchObject({
      status: 400,
      error: "invalid_grant",
    });
    await expectTokensWork(tokens);
  });

  it("sees the tokens revoked when the rightful client itself replays the code (RFC 6749 §4.1.2)", async () => {
    const { code, verifier } = await issuedCode();
    const tokens = await redeemed(code, verifier);
    expect(await oauthError(await redeem(code, verifier))).toMatchObject({ status: 400, error: "invalid_grant" });
    const userinfo = await auth.fetch("/userinfo", { headers: { Authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status).toBe(401);
    const refreshed = await postForm(auth, "/token", {
      grant_type: "refresh_token",
      client_id: RIGHTFUL.clientId,
      refresh_token: tokens.refresh_token,
    });
    expect(await oauthError(refreshed)).toMatchObject({ status: 400, error: "invalid_grant" });
  });

  it("lets at most one of two concurrent redemptions of one code obtain tokens", async () => {
    const { code, verifier } = await issuedCode();
    const answers = await Promise.all([redeem(code, verifier), redeem(code, verifier)]);
    expect(answers.filter((res) => res.status === 200).length).toBeLessThanOrEqual(1);
    for (const loser of answers.filter((res) => res.status !== 200)) {
      expect(await oauthError(loser)).toMatchObject({ status: 400, error: "invalid_grant" });
    }
  });
});
