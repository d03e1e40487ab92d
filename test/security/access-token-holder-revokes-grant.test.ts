// Refresh-token reuse detection (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2) must fire only for a token
// that really was issued in the family and only when its own client presents it. Otherwise anyone
// who has seen one of the user's access tokens (or a tool token sent upstream) could make up
// `<family>.<anything>` and revoke the user's grant. Families are seeded with the store's own code
// and rotated once over HTTP, so the access token is a real one the provider minted.
import { randomBytes } from "node:crypto";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authConfig, confidentialClient, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { oauthError, postForm } from "../helpers/oauth-requests.js";
import { seedRefreshFamily } from "../helpers/refresh-family.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const TOOL_API = "https://tool.test/api";

const app = confidentialClient("app");
const other = confidentialClient("other-app");
const gateway = confidentialClient("gateway", { grantTypes: [TOKEN_EXCHANGE], allowedAudiences: [TOOL_API] });

describe("an attacker who has seen a user's access token", () => {
  let auth: RunningWorker;

  beforeAll(async () => {
    auth = await startAuthWorker({
      config: (url) =>
        authConfig(url, { apps: [app.app, other.app, gateway.app], tokens: { refreshReuseGrace: "0s" } }),
      bindings: { ...app.bindings, ...other.bindings, ...gateway.bindings },
    });
  });
  afterAll(() => auth.dispose());

  const refresh = (refreshToken: string, client = app.client) =>
    postForm(auth, "/token", { grant_type: "refresh_token", refresh_token: refreshToken }, client);

  /** A user's grant as a client holds it after one rotation: the rotated-out seed, the current refresh token, an access token. */
  async function userGrant() {
    const seeded = await seedRefreshFamily("app", { resource: [GATEWAY_RESOURCE] });
    const res = await refresh(seeded.refreshToken);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; refresh_token: string };
    return {
      familyId: seeded.familyId,
      rotatedOut: seeded.refreshToken,
      refreshToken: body.refresh_token,
      accessToken: body.access_token,
    };
  }

  /** The grant still works: its access token at /userinfo and its refresh token at /token. */
  async function expectGrantIntact(grant: { accessToken: string; refreshToken: string }) {
    const userinfo = await auth.fetch("/userinfo", { headers: { Authorization: `Bearer ${grant.accessToken}` } });
    expect(userinfo.status).toBe(200);
    expect((await refresh(grant.refreshToken)).status).toBe(200);
  }

  it("finds no family id in the access token to build a refresh token from", async () => {
    const grant = await userGrant();
    const claims = decodeJwt(grant.accessToken);
    expect(claims.fam).toEqual(expect.any(String));
    expect(claims.fam).not.toBe(grant.familyId);
    expect(grant.refreshToken.startsWith(`${String(claims.fam)}.`)).toBe(false);
  });

  it("gets invalid_grant for `<family>.<random>` as a refresh token, and the user's refresh and access tokens keep working", async () => {
    const grant = await userGrant();
    const fam = String(decodeJwt(grant.accessToken).fam);
    // Whatever the attacker takes for the family id (the claim, or the real id should it ever
    // leak), and whichever client it claims to be: a token nobody was issued is only invalid.
    for (const family of [fam, grant.familyId]) {
      for (const client of [app.client, other.client]) {
        const forged = `${family}.${randomBytes(32).toString("base64url")}`;
        expect(await oauthError(await refresh(forged, client))).toMatchObject({ status: 400, error: "invalid_grant" });
      }
    }
    await expectGrantIntact(grant);
  });

  it("gets invalid_grant presenting a really rotated-out refresh token as another client, and nothing is revoked", async () => {
    const grant = await userGrant();
    expect(await oauthError(await refresh(grant.rotatedOut, other.client))).toMatchObject({
      status: 400,
      error: "invalid_grant",
    });
    await expectGrantIntact(grant);
  });

  it("revokes the family when the client itself replays its rotated-out refresh token (reuse detection)", async () => {
    const grant = await userGrant();
    expect(await oauthError(await refresh(grant.rotatedOut))).toMatchObject({ status: 400, error: "invalid_grant" });
    expect(await oauthError(await refresh(grant.refreshToken))).toMatchObject({ status: 400, error: "invalid_grant" });
    const userinfo = await auth.fetch("/userinfo", { headers: { Authorization: `Bearer ${grant.accessToken}` } });
    expect(userinfo.status).toBe(401);
  });

  it("finds no family claim in a tool token exchanged for an upstream", async () => {
    const grant = await userGrant();
    const res = await postForm(
      auth,
      "/token",
      {
        grant_type: TOKEN_EXCHANGE,
        subject_token: grant.accessToken,
        subject_token_type: ACCESS_TOKEN,
        audience: TOOL_API,
      },
      gateway.client,
    );
    expect(res.status).toBe(200);
    const claims = decodeJwt(((await res.json()) as { access_token: string }).access_token);
    expect(claims).toMatchObject({ sub: expect.any(String), aud: TOOL_API });
    expect(claims).not.toHaveProperty("fam");
  });
});
